"""Registered models over the REST API: naming, ownership, sharing, visibility."""

import pytest

from modelgate.core.models import AuditEvent
from registry.models import RegisteredModel
from tests.conftest import api_for
from tests.registry.factories import make_model, make_version, upload


def test_it_creates_a_model_owned_by_the_team_and_audits_it(ds_owner, mle_teammate):
    response = api_for(ds_owner).post("/api/v1/models/", {"name": "churn.v2_model-x", "team": "credit", "tags": {"use": "churn"}}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["team"] == "credit" and response.json()["latest_version"] == 0
    # The teammate sees and may change it through the team's object permissions.
    patched = api_for(mle_teammate).patch("/api/v1/models/churn.v2_model-x/", {"description": "new"}, format="json")
    assert patched.status_code == 200 and patched.json()["description"] == "new"
    event = AuditEvent.objects.filter(action="registry.model.create").get()
    assert event.model_name == "churn.v2_model-x" and event.team_slug == "credit"


@pytest.mark.parametrize("name", ["", "has space", "a/b", "x" * 129, "naïve", "semi;colon"])
def test_it_refuses_an_invalid_model_name(ds_owner, name):
    response = api_for(ds_owner).post("/api/v1/models/", {"name": name, "team": "credit"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()["error"]["fields"]
    assert not RegisteredModel.objects.exists()


def test_it_answers_409_for_a_taken_name_even_in_another_team(ds_owner, outsider, team_credit):
    make_model(ds_owner, team_credit, "taken")
    response = api_for(outsider).post("/api/v1/models/", {"name": "taken", "team": "fraud"}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "already_exists"


def test_it_refuses_creating_a_model_for_a_team_you_are_not_in(outsider, team_credit):
    response = api_for(outsider).post("/api/v1/models/", {"name": "sneaky", "team": "credit"}, format="json")
    assert response.status_code == 403 and "team" in response.json()["error"]["fields"]


def test_it_answers_404_not_403_for_another_teams_model_and_artifacts(ds_owner, outsider, team_credit):
    model = make_model(ds_owner, team_credit)
    version = make_version(ds_owner, model)
    upload(ds_owner, version, "model.bin", b"secret")
    client = api_for(outsider)
    for url in (
        "/api/v1/models/credit-scorer/",
        "/api/v1/models/credit-scorer/versions/",
        "/api/v1/models/credit-scorer/versions/1/",
        "/api/v1/models/credit-scorer/versions/1/artifacts/",
        "/api/v1/models/credit-scorer/versions/1/artifacts/model.bin",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"secret" not in response.content
    assert client.get("/api/v1/models/", {"name": "credit-scorer"}).json()["results"] == []
    assert client.patch("/api/v1/models/credit-scorer/", {"description": "x"}, format="json").status_code == 404
    assert client.put("/api/v1/models/credit-scorer/versions/1/artifacts/x.bin", data=b"x", content_type="application/octet-stream").status_code == 404


def test_it_shares_read_only_with_another_team(ds_owner, outsider, team_credit):
    model = make_model(ds_owner, team_credit)
    version = make_version(ds_owner, model)
    upload(ds_owner, version, "model.bin", b"shared bytes")
    assert api_for(ds_owner).post("/api/v1/models/credit-scorer/share/", {"team": "fraud"}, format="json").status_code == 200
    client = api_for(outsider)
    assert [m["name"] for m in client.get("/api/v1/models/").json()["results"]] == ["credit-scorer"]
    download = client.get("/api/v1/models/credit-scorer/versions/1/artifacts/model.bin")
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"shared bytes"
    # Read-only: a write is refused with a clear 403 (they already know the model exists).
    denied = client.patch("/api/v1/models/credit-scorer/", {"description": "mine now"}, format="json")
    assert denied.status_code == 403 and "read-only" in denied.json()["error"]["message"]
    assert client.post("/api/v1/models/credit-scorer/versions/", {}, format="json").status_code == 403
    # Unshare withdraws it.
    assert api_for(ds_owner).post("/api/v1/models/credit-scorer/unshare/", {"team": "fraud"}, format="json").status_code == 200
    assert client.get("/api/v1/models/credit-scorer/").status_code == 404


def test_it_lets_roles_that_see_all_teams_read_but_not_write(ds_owner, team_credit, auditor, risk):
    make_model(ds_owner, team_credit)
    for user in (auditor, risk):
        client = api_for(user)
        assert client.get("/api/v1/models/credit-scorer/").status_code == 200
        assert client.patch("/api/v1/models/credit-scorer/", {"description": "x"}, format="json").status_code == 403


def test_it_renames_and_deletes_a_model(ds_owner, team_credit):
    model = make_model(ds_owner, team_credit)
    make_version(ds_owner, model)
    client = api_for(ds_owner)
    assert client.post("/api/v1/models/credit-scorer/rename/", {"name": "credit-scorer-2"}, format="json").json()["name"] == "credit-scorer-2"
    assert client.get("/api/v1/models/credit-scorer/").status_code == 404
    assert client.delete("/api/v1/models/credit-scorer-2/").status_code == 204
    assert not RegisteredModel.objects.exists()
    event = AuditEvent.objects.filter(action="registry.model.delete").get()
    assert event.model_name == "credit-scorer-2" and event.changes["versions"]["before"] == 1


def test_it_refuses_deleting_a_model_whose_versions_are_parents_elsewhere(ds_owner, team_credit):
    parent_model = make_model(ds_owner, team_credit, "base")
    parent = make_version(ds_owner, parent_model)
    child_model = make_model(ds_owner, team_credit, "tuned")
    make_version(ds_owner, child_model, parents=[(parent, "fine_tune")])
    response = api_for(ds_owner).delete("/api/v1/models/base/")
    assert response.status_code == 409
    assert RegisteredModel.objects.filter(name="base").exists()


def test_it_sets_and_moves_an_alias(ds_owner, team_credit):
    model = make_model(ds_owner, team_credit)
    make_version(ds_owner, model)
    make_version(ds_owner, model)
    client = api_for(ds_owner)
    assert client.put("/api/v1/models/credit-scorer/aliases/challenger/", {"version": 1}, format="json").json()["version"] == 1
    assert client.put("/api/v1/models/credit-scorer/aliases/challenger/", {"version": 2}, format="json").json()["version"] == 2
    detail = client.get("/api/v1/models/credit-scorer/").json()
    assert detail["aliases"][0]["alias"] == "challenger" and detail["aliases"][0]["version"] == 2
    assert client.put("/api/v1/models/credit-scorer/aliases/challenger/", {"version": 9}, format="json").status_code == 400
    assert client.delete("/api/v1/models/credit-scorer/aliases/challenger/").status_code == 204
    assert client.delete("/api/v1/models/credit-scorer/aliases/challenger/").status_code == 404
    moved = AuditEvent.objects.filter(action="registry.alias.set").order_by("id").last()
    assert moved.changes == {"version": {"before": 1, "after": 2}}


def test_it_deletes_a_model_whose_versions_derive_from_each_other(ds_owner, team_credit):
    model = make_model(ds_owner, team_credit)
    v1 = make_version(ds_owner, model)
    make_version(ds_owner, model, parents=[(v1, "retrain")])
    assert api_for(ds_owner).delete("/api/v1/models/credit-scorer/").status_code == 204
    assert not RegisteredModel.objects.exists()
