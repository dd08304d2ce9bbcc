import datetime

import pytest
from django.utils import timezone

from governance.modelrisk import services as mr
from governance.models import Environment
from governance.roles import MODEL_VALIDATOR
from tests.factories import UserFactory
from tests.governance.fixtures import TIER_1_ANSWERS, assess, make_model, make_version, post_passing_ci


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def validator(db):
    """Model validator outside every team."""
    return UserFactory(username="val", roles=[MODEL_VALIDATOR])


@pytest.fixture
def validator_in_credit(team_credit):
    """A model validator who also works in the credit team: not independent for credit's models."""
    return UserFactory(username="vic", roles=[MODEL_VALIDATOR], teams=[team_credit])


@pytest.fixture
def tier1_model(ds_owner, team_credit):
    model = make_model(user=ds_owner, team=team_credit, name="credit-scorer", assessed=False)
    assess(user=ds_owner, model=model, answers=TIER_1_ANSWERS)
    return model


@pytest.fixture
def tier1_version(ds_owner, tier1_model):
    version = make_version(user=ds_owner, model=tier1_model)
    post_passing_ci(user=ds_owner, version=version)
    return version


def envs():
    return {e.slug: e for e in Environment.objects.all()}


def signed_validation(validator, version, outcome="approved"):
    validation = mr.validation_start(user=validator, version=version, scope="Full initial validation")
    checklist = {item: {"result": "satisfactory", "note": "checked"} for item in validation.checklist}
    mr.validation_update(user=validator, validation=validation, checklist=checklist)
    return mr.validation_sign(user=validator, validation=validation, outcome=outcome, summary="Sound.",
                              conditions="Monitor drift monthly" if outcome == "approved_with_conditions" else "")


def in_days(n):
    return timezone.localdate() + datetime.timedelta(days=n)
