"""A model card names the training run the tracking server reported: its link as a
reference, its dataset inputs as data, its metrics sliced "training run"."""

from registry import services as registry_services
from registry.tracking import RunFacts
from tests.conftest import api_for
from tests.monitoring.conftest import make_version

URL = "/api/v1/model-cards/"


def test_it_puts_the_training_run_in_the_generated_card_and_keeps_authored_references(ds_owner, team_credit):
    version = make_version(team=team_credit, name="credit-lr", user=ds_owner)
    registry_services.modelversion_attach_training_run(version_id=version.pk, facts=RunFacts(
        run_id="run-abc", experiment_id="7", name="credit-lr", url="http://mlflow.example/#/experiments/7/runs/run-abc",
        metrics={"auc": 0.91}, datasets=[{"name": "credit-train", "digest": "abcd1234", "source_type": "code", "source": "s3://data/train", "context": "training"}],
    ))
    client = api_for(ds_owner)
    card = client.post(f"{URL}{version.pk}/generate/").json()["card"]
    assert card["model_details"]["references"] == [{"reference": "http://mlflow.example/#/experiments/7/runs/run-abc"}]
    assert {"name": "credit-train@abcd1234 (training)", "link": "s3://data/train", "sensitive": {"sensitive_data": []}} in card["model_parameters"]["data"]
    assert {"type": "auc", "value": "0.91", "slice": "training run run-abc"} in card["quantitative_analysis"]["performance_metrics"]

    edited = client.patch(f"{URL}{version.pk}/", {"authored": {"model_details": {"references": [{"reference": "https://wiki.example/credit"}]}}}, format="json")
    assert edited.status_code == 200, edited.json()
    assert edited.json()["card"]["model_details"]["references"] == [
        {"reference": "http://mlflow.example/#/experiments/7/runs/run-abc"}, {"reference": "https://wiki.example/credit"},
    ]
