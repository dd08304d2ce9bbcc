"""The registry's demo part and admin console."""

from django.test import Client

from modelgate.core import demo
from modelgate.core.models import AuditEvent
from registry import storage
from registry.demo import seed
from registry.models import Artifact, ModelVersion, RegisteredModel
from tests.registry.factories import make_model


def test_it_seeds_models_with_real_artifacts_idempotently(db):
    import io

    context = demo.seed(io.StringIO())
    seed(io.StringIO(), context)
    counts = (RegisteredModel.objects.count(), ModelVersion.objects.count(), Artifact.objects.count())
    seed(io.StringIO(), demo.seed(io.StringIO()))  # twice: nothing new
    assert (RegisteredModel.objects.count(), ModelVersion.objects.count(), Artifact.objects.count()) == counts
    assert {"credit-scorer", "fraud-detector"} <= set(RegisteredModel.objects.values_list("name", flat=True))
    assert list(ModelVersion.objects.filter(registered_model__name="credit-scorer").values_list("version", "status")) == [(2, "ready"), (1, "ready")]
    model_file = Artifact.objects.get(version__registered_model__name="credit-scorer", version__version=2, path="model/model.skops")
    assert storage.verify_blob(model_file.blob) and model_file.blob.size > 100


def test_it_lets_the_auditor_read_but_not_change_models_in_the_admin(auditor, ds_owner, team_credit):
    make_model(ds_owner, team_credit)
    auditor.is_staff = True
    auditor.save()
    client = Client()
    client.force_login(auditor)
    assert client.get("/admin/registry/registeredmodel/").status_code == 200
    model = RegisteredModel.objects.get()
    page = client.get(f"/admin/registry/registeredmodel/{model.pk}/change/")
    assert page.status_code == 200 and b'name="description"' not in page.content
    client.post(f"/admin/registry/registeredmodel/{model.pk}/change/", {"description": "auditor edit", "tags": "{}"})
    model.refresh_from_db()
    assert model.description == ""


def test_it_edits_descriptions_in_the_admin_through_the_audited_service(admin_user, ds_owner, team_credit):
    model = make_model(ds_owner, team_credit)
    admin_user.is_staff = True
    admin_user.save()
    client = Client()
    client.force_login(admin_user)
    response = client.post(f"/admin/registry/registeredmodel/{model.pk}/change/", {"description": "from the admin", "tags": '{"a": "b"}'})
    assert response.status_code == 302, response.content[:500]
    model.refresh_from_db()
    assert model.description == "from the admin" and model.tags == {"a": "b"}
    assert AuditEvent.objects.filter(action="registry.model.update", actor_username="ada").exists()
