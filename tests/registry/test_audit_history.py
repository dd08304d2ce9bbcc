"""A model's audit history follows the model (its id), not its name, and every audit read
shows only events about objects the reader may see.

Team credit describes, tags and measures a model, then renames or deletes it; team fraud
creates a model with the old name. Matched by name, fraud's model page listed credit's
history (descriptions, metrics, tags).
"""

import pytest
from django.test import Client

from modelgate.core import audit
from modelgate.core.models import AuditEvent
from modelgate.core.selectors import audit_events_for
from registry import services
from tests.conftest import api_for

SECRET = "credit-internal-secret-plan"


@pytest.fixture(autouse=True)
def artifact_store(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "artifacts": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }


def _credit_model(ds_owner, team_credit, name="scorer"):
    model = services.registered_model_create(user=ds_owner, name=name, team=team_credit, description=SECRET, tags={"plan": SECRET})
    services.modelversion_register(user=ds_owner, registered_model=model, framework="sklearn", metrics={"secret_auc": 0.97})
    return model


def _page(user, url):
    client = Client()
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_a_new_model_with_a_deleted_models_name_does_not_show_its_history(ds_owner, outsider, team_credit, team_fraud, admin_user):
    old = _credit_model(ds_owner, team_credit)
    services.registered_model_delete(user=admin_user, model=old)
    services.registered_model_create(user=outsider, name="scorer", team=team_fraud, description="fraud's own")

    page = _page(outsider, "/registry/models/scorer/")

    assert "fraud&#x27;s own" in page or "fraud's own" in page
    assert SECRET not in page and "secret_auc" not in page
    assert "registry.model.delete" not in page


def test_a_renamed_model_keeps_its_history_and_its_old_name_starts_empty(ds_owner, outsider, team_credit, team_fraud):
    model = _credit_model(ds_owner, team_credit)
    services.registered_model_rename(user=ds_owner, model=model, new_name="scorer-v2")
    services.registered_model_create(user=outsider, name="scorer", team=team_fraud)

    theirs = _page(outsider, "/registry/models/scorer/")
    ours = _page(ds_owner, "/registry/models/scorer-v2/")

    assert SECRET not in theirs and "registry.model.rename" not in theirs
    # The history written under the old name follows the model.
    assert SECRET in ours and "registry.version.register" in ours and "registry.model.rename" in ours


def test_events_about_a_model_carry_its_id(ds_owner, team_credit, admin_user):
    model = _credit_model(ds_owner, team_credit)
    pk = model.pk
    services.registered_model_rename(user=ds_owner, model=model, new_name="scorer-v2")
    services.registered_model_delete(user=admin_user, model=model)

    events = AuditEvent.objects.filter(registered_model_id=pk).order_by("id")

    assert [e.action for e in events] == [
        "registry.model.create", "registry.version.register", "registry.model.rename", "registry.model.delete",
    ]
    assert not AuditEvent.objects.filter(model_name__startswith="scorer", registered_model_id=None).exists()


def test_the_home_feed_follows_who_may_see_the_model(ds_owner, outsider, team_credit, team_fraud):
    model = _credit_model(ds_owner, team_credit)
    assert SECRET not in _page(outsider, "/")

    # Shared with fraud: its readers see its activity, as they see its page.
    services.registered_model_share(user=ds_owner, model=model, team=team_fraud)
    assert f"shared {model.name} with" in _page(outsider, "/")  # the feed speaks in sentences

    services.registered_model_unshare(user=ds_owner, model=model, team=team_fraud)
    assert model.name not in _page(outsider, "/")


def test_the_audit_selector_gives_auditors_everything_and_others_their_models_events(ds_owner, outsider, auditor, team_credit, team_fraud):
    credit = _credit_model(ds_owner, team_credit)
    fraud = services.registered_model_create(user=outsider, name="fraud-model", team=team_fraud)

    seen_by_outsider = set(audit_events_for(outsider).values_list("registered_model_id", flat=True))

    assert seen_by_outsider == {fraud.pk}
    assert audit_events_for(auditor).count() == AuditEvent.objects.count()
    assert credit.pk in set(audit_events_for(ds_owner).values_list("registered_model_id", flat=True))


def test_the_audit_api_filters_by_model_id_across_a_rename(ds_owner, auditor, team_credit):
    model = _credit_model(ds_owner, team_credit)
    services.registered_model_rename(user=ds_owner, model=model, new_name="scorer-v2")

    response = api_for(auditor).get(f"/api/v1/audit/?model_id={model.pk}")

    assert response.status_code == 200
    rows = response.json()["results"]
    assert {row["action"] for row in rows} == {"registry.model.create", "registry.version.register", "registry.model.rename"}
    assert {row["registered_model_id"] for row in rows} == {model.pk}


def test_the_model_id_is_part_of_the_hashed_content(ds_owner, team_credit):
    model = _credit_model(ds_owner, team_credit)
    event = AuditEvent.objects.filter(registered_model_id=model.pk).first()
    assert audit.compute_hash(event, event.prev_hash) == event.hash

    event.registered_model_id = model.pk + 1  # moving an event to another model's history

    assert audit.compute_hash(event, event.prev_hash) != event.hash


def test_events_without_a_model_hash_as_they_did_before_the_column(db):
    # Events written before the column existed (and events about no model) keep their hashes.
    event = audit.record(action="test.no_model", object_type="x", object_id="1")
    event = AuditEvent.objects.get(action="test.no_model")

    assert event.registered_model_id is None
    assert "registered_model_id" not in audit.canonical(event)
    assert audit.verify_chain().ok
