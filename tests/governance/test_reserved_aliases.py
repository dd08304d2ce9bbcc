"""Reserved aliases follow governance: staging/uat (UAT) and prod/production/champion
(Prod) point at a version approved for or deployed in their environment, also after a
newer deployment, a rollback, a retirement, an expired or cancelled approval. The
governance service that makes a version ineligible moves the alias to the version that
carries the environment's traffic, or removes it when nothing serves there, audited."""

import datetime

import pytest
from django.utils import timezone

from governance import services
from governance.models import Environment, PromotionRequest
from modelgate.core.audit import verify_chain
from modelgate.core.errors import ConflictError
from modelgate.core.models import AuditEvent
from registry import aliases
from registry import services as registry
from registry.models import ModelAlias
from tests.governance.fixtures import make_version, post_passing_ci

pytestmark = pytest.mark.django_db


def _approve_for_uat(version, ds_owner, mle_teammate) -> PromotionRequest:
    post_passing_ci(user=ds_owner, version=version)
    req = services.promotion_request_create(user=ds_owner, version=version, environment=Environment.objects.get(slug="uat"))
    services.promotion_request_submit(user=ds_owner, request=req)
    return services.promotion_request_approve(user=mle_teammate, request=req, comment="ok")


def _to_uat(version, ds_owner, mle_teammate, **deploy):
    req = _approve_for_uat(version, ds_owner, mle_teammate)
    return services.promotion_request_deploy(user=ds_owner, request=req, **deploy)


def _aliases(model) -> dict[str, int]:
    return dict(ModelAlias.objects.filter(registered_model=model).values_list("alias", "version__version"))


def _alias_events(action):
    return list(AuditEvent.objects.filter(action=action).order_by("id").values_list("actor_username", "changes"))


@pytest.fixture
def two_versions(ds_owner, credit_model, version):
    return version, make_version(user=ds_owner, model=credit_model)


def test_it_refuses_a_reserved_alias_until_the_version_is_approved_and_names_the_rule(ds_owner, mle_teammate, credit_model, version):
    with pytest.raises(ConflictError) as refused:
        registry.alias_set(user=ds_owner, registered_model=credit_model, alias="staging", version=version)
    assert refused.value.code == "reserved_alias" and refused.value.status_code == 409
    assert "UAT" in refused.value.message and refused.value.fields == {"version": [refused.value.message]}
    _approve_for_uat(version, ds_owner, mle_teammate)
    registry.alias_set(user=ds_owner, registered_model=credit_model, alias="staging", version=version)
    with pytest.raises(ConflictError):  # UAT approval is not Prod approval
        registry.alias_set(user=ds_owner, registered_model=credit_model, alias="champion", version=version)
    assert _aliases(credit_model) == {"staging": 1}


def test_it_moves_the_alias_to_the_version_that_replaces_it_in_the_environment(ds_owner, mle_teammate, credit_model, two_versions):
    v1, v2 = two_versions
    _to_uat(v1, ds_owner, mle_teammate)
    registry.alias_set(user=ds_owner, registered_model=credit_model, alias="staging", version=v1)
    registry.alias_set(user=ds_owner, registered_model=credit_model, alias="candidate", version=v1)
    _to_uat(v2, ds_owner, mle_teammate)
    assert _aliases(credit_model) == {"staging": 2, "candidate": 1}  # free aliases are never touched
    (actor, changes), = _alias_events("registry.alias.set")[-1:]
    assert actor == "dana" and changes["version"] == {"before": 1, "after": 2}
    assert "no longer" in changes["reason"]["after"]


def test_it_keeps_the_alias_on_either_side_of_a_canary(ds_owner, mle_teammate, credit_model, two_versions):
    v1, v2 = two_versions
    _to_uat(v1, ds_owner, mle_teammate)
    registry.alias_set(user=ds_owner, registered_model=credit_model, alias="staging", version=v1)
    _to_uat(v2, ds_owner, mle_teammate, canary_weight=20)
    assert _aliases(credit_model) == {"staging": 1}  # v1 still takes 80 % of UAT's traffic
    registry.alias_set(user=ds_owner, registered_model=credit_model, alias="uat", version=v2)
    assert _aliases(credit_model) == {"staging": 1, "uat": 2}


def test_it_moves_the_alias_back_on_rollback(ds_owner, mle_teammate, credit_model, two_versions):
    v1, v2 = two_versions
    _to_uat(v1, ds_owner, mle_teammate)
    deployment = _to_uat(v2, ds_owner, mle_teammate)
    registry.alias_set(user=ds_owner, registered_model=credit_model, alias="staging", version=v2)
    services.deployment_rollback(user=mle_teammate, deployment=deployment, note="p95 regression")
    assert _aliases(credit_model) == {"staging": 1}
    actor, changes = _alias_events("registry.alias.set")[-1]
    assert actor == "mel" and changes["version"] == {"before": 2, "after": 1}
    assert verify_chain().ok


def test_it_removes_the_alias_when_the_deployment_is_retired(ds_owner, mle_teammate, credit_model, version):
    deployment = _to_uat(version, ds_owner, mle_teammate)
    registry.alias_set(user=ds_owner, registered_model=credit_model, alias="uat", version=version)
    services.deployment_retire(user=mle_teammate, deployment=deployment, note="decommissioned")
    assert _aliases(credit_model) == {}
    actor, changes = _alias_events("registry.alias.delete")[-1]
    assert actor == "mel" and changes["version"] == {"before": 1, "after": None}
    assert "no longer" in changes["reason"]["after"]


def test_it_moves_the_alias_off_an_expired_approval(ds_owner, mle_teammate, credit_model, two_versions):
    v1, v2 = two_versions
    _to_uat(v1, ds_owner, mle_teammate)
    req = _approve_for_uat(v2, ds_owner, mle_teammate)  # approved, not deployed yet
    registry.alias_set(user=ds_owner, registered_model=credit_model, alias="staging", version=v2)
    PromotionRequest.objects.filter(pk=req.pk).update(decided_at=timezone.now() - datetime.timedelta(days=31))
    # Stale before the daily expiry has run: resolution already refuses it.
    assert not aliases.target_allowed(alias="staging", version=v2)
    assert services.expire_stale_approvals() == 1
    assert _aliases(credit_model) == {"staging": 1}  # back on what UAT serves
    actor, changes = _alias_events("registry.alias.set")[-1]
    assert actor == "" and changes["version"] == {"before": 2, "after": 1}  # the periodic task acts, nobody signed in


def test_it_removes_the_alias_when_deploying_finds_the_approval_expired(ds_owner, mle_teammate, credit_model, version):
    req = _approve_for_uat(version, ds_owner, mle_teammate)
    registry.alias_set(user=ds_owner, registered_model=credit_model, alias="staging", version=version)
    PromotionRequest.objects.filter(pk=req.pk).update(decided_at=timezone.now() - datetime.timedelta(days=31))
    with pytest.raises(ConflictError):
        services.promotion_request_deploy(user=ds_owner, request=req)
    assert PromotionRequest.objects.get(pk=req.pk).state == "expired"
    assert _aliases(credit_model) == {}


def test_it_removes_the_alias_when_the_approved_request_is_cancelled(ds_owner, mle_teammate, credit_model, version):
    req = _approve_for_uat(version, ds_owner, mle_teammate)
    registry.alias_set(user=ds_owner, registered_model=credit_model, alias="staging", version=version)
    services.promotion_request_cancel(user=ds_owner, request=req, comment="not now")
    assert _aliases(credit_model) == {}


def test_it_removes_the_alias_when_the_version_is_retired(ds_owner, mle_teammate, credit_model, version):
    _approve_for_uat(version, ds_owner, mle_teammate)
    registry.alias_set(user=ds_owner, registered_model=credit_model, alias="staging", version=version)
    services.version_set_lifecycle(user=ds_owner, version=version, state="retired", reason="superseded")
    assert _aliases(credit_model) == {}
    assert AuditEvent.objects.filter(action="registry.alias.delete", model_name=credit_model.name).count() == 1
