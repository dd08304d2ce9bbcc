import pytest

from tests.telemetry.fixtures import make_deployment


@pytest.fixture
def deployment(team_credit):
    return make_deployment(team_credit, "scorecard")


@pytest.fixture
def fraud_deployment(team_fraud):
    return make_deployment(team_fraud, "fraud-detector")
