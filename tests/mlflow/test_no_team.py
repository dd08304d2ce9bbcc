"""A user in no team who registers a model through MLflow is told what to do."""

from modelgate.core import roles
from registry.models import RegisteredModel
from tests.factories import UserFactory
from tests.mlflow.helpers import MlflowApi


def test_it_tells_a_user_in_no_team_to_ask_for_one(db):
    newcomer = UserFactory(username="newbie", roles=[roles.DATA_SCIENTIST])
    status, body = MlflowApi(newcomer).post("registered-models/create", {"name": "first-model"})
    assert status == 400
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "You belong to no team" in body["message"]
    assert "ask an administrator" in body["message"] and "manage.py add_member" in body["message"]
    assert not RegisteredModel.objects.exists()
