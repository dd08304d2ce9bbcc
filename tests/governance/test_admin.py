"""Admin console: every governance model registered; auditors read-only, refused on the server."""

import pytest
from django.contrib import admin

from governance.models import Environment, PromotionRequest, Webhook
from modelgate.core.audit import verify_chain
from modelgate.core.models import AuditEvent
from tests.portal.conftest import admin_console_client_for

pytestmark = pytest.mark.django_db


def test_it_registers_every_governance_and_registry_model():
    from django.apps import apps

    for config in ("governance", "registry"):
        for model in apps.get_app_config(config).get_models():
            if model._meta.auto_created or model.__name__.endswith("ObjectPermission"):
                continue
            assert admin.site.is_registered(model), model


def test_it_lets_the_auditor_read_but_refuses_writes_on_the_server(auditor, ds_owner, version):
    from governance import services

    req = services.promotion_request_create(user=ds_owner, version=version, environment=Environment.objects.get(slug="uat"))
    client = admin_console_client_for(auditor)
    uat = Environment.objects.get(slug="uat")
    for url in ("/admin/governance/environment/", f"/admin/governance/environment/{uat.pk}/change/",
                "/admin/governance/promotionrequest/", f"/admin/governance/promotionrequest/{req.pk}/change/",
                "/admin/governance/deployment/", "/admin/governance/webhookdelivery/", "/admin/registry/registeredmodel/"):
        response = client.get(url)
        assert response.status_code == 200, url
    page = client.get(f"/admin/governance/environment/{uat.pk}/change/").content.decode()
    assert 'name="_save"' not in page  # no save button
    # A forged POST is refused: change, add, delete.
    before = Environment.objects.get(pk=uat.pk).required_approver_roles
    response = client.post(f"/admin/governance/environment/{uat.pk}/change/", {"name": "UAT", "required_approver_roles": "[]",
                                                                              "direct_deploy_roles": "[]", "gates": "[]",
                                                                              "protected_attributes": "[]"})
    assert response.status_code == 403
    assert Environment.objects.get(pk=uat.pk).required_approver_roles == before
    assert client.post("/admin/governance/webhookallowedaddress/add/", {"network": "10.0.0.0/8"}).status_code == 403
    assert client.post(f"/admin/governance/promotionrequest/{req.pk}/delete/", {"post": "yes"}).status_code == 403
    assert PromotionRequest.objects.filter(pk=req.pk).exists()
    # The bulk delete action is not offered.
    response = client.post("/admin/governance/promotionrequest/", {"action": "delete_selected", "_selected_action": [req.pk]})
    assert PromotionRequest.objects.filter(pk=req.pk).exists()
    assert response.status_code in (200, 302)


def test_it_lets_the_admin_edit_a_policy_through_the_audited_service(admin_user):
    client = admin_console_client_for(admin_user)
    uat = Environment.objects.get(slug="uat")
    data = {
        "name": "UAT", "description": uat.description, "direct_deploy_roles": "[]",
        "required_approver_roles": '["ml_engineer", "risk_officer"]', "gates": "[]",
        "requires_previous_environment": "on", "approval_max_age_days": "14", "review_interval_days": "",
        "protected_attributes": '["gender"]',
    }
    response = client.post(f"/admin/governance/environment/{uat.pk}/change/", data)
    assert response.status_code == 302, response.content[:2000]
    uat.refresh_from_db()
    assert uat.required_approver_roles == ["ml_engineer", "risk_officer"] and uat.approval_max_age_days == 14
    event = AuditEvent.objects.get(action="environment.update_policy")
    assert event.changes["required_approver_roles"] == {"before": ["ml_engineer"], "after": ["ml_engineer", "risk_officer"]}
    assert event.actor_username == "ada"
    assert verify_chain().ok


def test_it_hides_another_teams_rows_in_the_admin(outsider, ds_owner, version):
    from governance import services

    dep = services.deployment_create_direct(user=ds_owner, version=version, environment=Environment.objects.get(slug="dev"))
    client = admin_console_client_for(outsider)
    listing = client.get("/admin/governance/deployment/")
    assert listing.status_code == 200 and "credit-scoring" not in listing.content.decode()
    # The change page of an invisible row redirects to the index ("does not exist"), never shows it.
    response = client.get(f"/admin/governance/deployment/{dep.pk}/change/")
    assert response.status_code == 302
    assert admin_console_client_for(ds_owner).get("/admin/governance/deployment/").content.decode().count("credit-scoring") >= 1


def test_it_never_shows_a_webhook_secret_in_the_admin(admin_user):
    from governance import services

    hook = Webhook.objects.create(name="ci", url="https://example.com/hook", secret="s3cr3t-value", events=[])
    page = admin_console_client_for(admin_user).get(f"/admin/governance/webhook/{hook.pk}/change/").content.decode()
    assert "s3cr3t-value" not in page
    assert services.POLICY_FIELDS  # the admin edits policies through the service
