"""The registry's alias-rule extension point (``registry.aliases``). The registry knows no
environment: an app registers a rule, and the registry applies it when an alias is set
(whatever the surface), repaired (``aliases_enforce_rules``) or resolved."""

import pytest

from modelgate.core.models import AuditEvent
from registry import aliases, services
from registry.aliases import AliasRule, AliasRuleError
from registry.models import ModelAlias, ModelVersion
from tests.conftest import api_for
from tests.mlflow.helpers import MlflowApi
from tests.registry.factories import make_model, make_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def rules():
    """The registered rules, emptied for the test and put back afterwards (governance's included)."""
    saved = dict(aliases.ALIAS_RULES)
    aliases.ALIAS_RULES.clear()
    yield aliases.ALIAS_RULES
    aliases.ALIAS_RULES.clear()
    aliases.ALIAS_RULES.update(saved)


@pytest.fixture
def versions(ds_owner, team_credit):
    model = make_model(ds_owner, team_credit)
    return [services.modelversion_finalize(user=ds_owner, version=make_version(ds_owner, model)) for _ in range(3)]


def _gold_rule(allowed: set, replacement=None) -> AliasRule:
    """Aliases starting with "gold" may only point at the versions in ``allowed`` (read when asked)."""
    return AliasRule(
        code="gold_rule", governs=lambda alias: alias.startswith("gold"),
        eligible=lambda alias: ModelVersion.objects.filter(pk__in=list(allowed)),
        explain=lambda alias, version: f"{alias} may not point at version {version.version}.",
        replacement=lambda alias, model_id: replacement() if replacement else None,
    )


def _aliases():
    return dict(ModelAlias.objects.values_list("alias", "version__version"))


def test_it_lets_any_alias_through_when_no_app_registers_a_rule(rules, ds_owner, versions):
    services.alias_set(user=ds_owner, registered_model=versions[0].registered_model, alias="champion", version=versions[0])
    assert _aliases() == {"champion": 1}


def test_it_refuses_a_target_its_rule_refuses_on_every_surface(rules, ds_owner, versions):
    v1, v2, _ = versions
    aliases.register_alias_rule(_gold_rule({v2.pk}))
    model = v1.registered_model
    with pytest.raises(AliasRuleError) as refused:
        services.alias_set(user=ds_owner, registered_model=model, alias="gold", version=v1)
    assert (refused.value.code, refused.value.status_code) == ("gold_rule", 409)
    response = api_for(ds_owner).put(f"/api/v1/models/{model.name}/aliases/gold-1/", {"version": 1}, format="json")
    assert response.status_code == 409
    assert response.json() == {"error": {"code": "gold_rule", "message": "gold-1 may not point at version 1.",
                                         "fields": {"version": ["gold-1 may not point at version 1."]}}}
    status, body = MlflowApi(ds_owner).post("registered-models/alias", {"name": model.name, "alias": "gold", "version": "1"})
    assert (status, body) == (400, {"error_code": "INVALID_PARAMETER_VALUE", "message": "gold may not point at version 1."})
    services.alias_set(user=ds_owner, registered_model=model, alias="gold", version=v2)
    services.alias_set(user=ds_owner, registered_model=model, alias="silver", version=v1)  # not the rule's
    assert _aliases() == {"gold": 2, "silver": 1}


def test_it_repairs_and_stops_resolving_an_alias_its_rule_no_longer_allows(rules, ds_owner, versions):
    v1, v2, v3 = versions
    allowed = {v2.pk}
    aliases.register_alias_rule(_gold_rule(allowed, replacement=lambda: v3))
    model = v1.registered_model
    services.alias_set(user=ds_owner, registered_model=model, alias="gold", version=v2)
    services.alias_set(user=ds_owner, registered_model=model, alias="silver", version=v2)
    mlflow = MlflowApi(ds_owner)
    assert mlflow.get("registered-models/alias", {"name": model.name, "alias": "gold"})[1]["model_version"]["version"] == "2"
    allowed.clear()  # what the rule reads changed
    assert mlflow.get("registered-models/alias", {"name": model.name, "alias": "gold"}) == (
        400, {"error_code": "INVALID_PARAMETER_VALUE", "message": "Registered model alias gold not found."})
    allowed.add(v3.pk)
    services.aliases_enforce_rules(registered_model=model, user=ds_owner, reason="test change")
    assert _aliases() == {"gold": 3, "silver": 2}
    moved = AuditEvent.objects.filter(action="registry.alias.set").latest("id")
    assert (moved.actor_username, moved.changes["version"]) == ("dana", {"before": 2, "after": 3})
    assert moved.changes["reason"]["after"] == "test change: the gold_rule rule no longer allows version 2"
    allowed.clear()
    services.aliases_enforce_rules(registered_model=model, user=None, reason="another change")  # v3 is no longer allowed either
    assert _aliases() == {"silver": 2}
    removed = AuditEvent.objects.filter(action="registry.alias.delete").latest("id")
    assert removed.object_repr == f"{model.name}@gold" and removed.changes["version"] == {"before": 3, "after": None}
