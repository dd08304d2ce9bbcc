"""What governance adds to the lower layers, through their extension points.

``register()`` runs once, from ``GovernanceConfig.ready()`` (so this module may
import models at the top). The registry and the shared portal never import
governance; they walk the points filled here.
"""

from __future__ import annotations

from django.db.models import Q

from governance import aliases, selectors, views
from governance import decision as governance_decision
from governance import demo as governance_demo
from governance.choices import WebhookEvent
from governance.modelrisk import decision as modelrisk_decision
from governance.modelrisk import demo as modelrisk_demo
from governance.roles import MODEL_VALIDATOR
from governance.services import webhook_emit
from modelgate.core import demo, portal, roles
from registry import extensions as registry
from registry.aliases import register_alias_rule


def register() -> None:
    # The registry's alias services refuse and repair reserved aliases through this rule.
    register_alias_rule(aliases.RULE)
    registry.on_version_registered("governance.webhook", version_registered)
    registry.register_version_panel("governance", registry.Panel(
        template="governance/partials/version_governance.html",
        context=lambda mv, user: {"governance": views.version_governance(mv, user)},
        position="top",
    ), order=10)
    registry.register_model_panel("governance.environments", registry.Panel(
        template="governance/partials/model_environments.html",
        context=lambda model, user: {"board": views.environment_board(model), "can_rollback": views.can_rollback(user, model)},
        position="top",
    ), order=10)
    registry.register_catalog_columns("governance.environments", registry.CatalogColumns(load=serving_columns))
    registry.register_catalog_filter("governance.environment", registry.CatalogFilter(
        param="environment", label="Deployed in", any_label="Any (or none)",
        choices=lambda: [(env.slug, env.name) for env in views.environments()],
        apply=views.filter_models_in_environment,
    ))
    registry.register_version_history("governance.requests", lambda mv: Q(
        object_type="governance.promotionrequest", object_id__in=views.version_audit_filter(mv),
    ))
    portal.register_home_widget("governance.inbox", portal.HomeWidget(
        template="governance/partials/home_inbox.html", context=home_inbox,
    ), order=10)
    governance_decision.register_decision_warning("governance.modelrisk.findings", modelrisk_decision.findings_warnings, order=5)
    demo.register_demo_user("vera", MODEL_VALIDATOR, [], "Vera Validator")
    # Model risk assesses the models and validates credit-scorer v2 before it is promoted to Prod.
    demo.register_demo_step("modelrisk", modelrisk_demo.seed, order=25)
    demo.register_demo_step("promotions", governance_demo.seed, order=30)


def serving_columns(model_ids: list[int]) -> tuple[list[str], dict[int, list]]:
    """One column per environment: the version(s) serving there, per model (two queries)."""
    environments = views.environments()
    board = views.current_versions_by_model(model_ids)
    cells = {model_id: [by_env.get(env.pk) for env in environments] for model_id, by_env in board.items()}
    return [env.name for env in environments], cells


def home_inbox(user) -> dict:
    """Requests waiting for my decision, alerts on models I may see, my own open requests."""
    return {
        # Overdue reviews and stale approvals on models I may see (my teams' for practitioners).
        "alerts": selectors.governance_alerts(user=user)[:10],
        "waiting": views.waiting_for(user),
        "my_requests": views.my_open_requests(user),
        "decided_by_me": views.decided_by_me(user),
        "reviews_due": views.reviews_due(user),
        "overrides_waiting": views.overrides_waiting(user),
        "can_approve": user.has_perm("governance.approve_promotionrequest") and not roles.is_read_only(user),
    }


def version_registered(version) -> None:
    """The ``version.registered`` webhook, queued in the registration transaction (outbox)."""
    model = version.registered_model
    webhook_emit(event=WebhookEvent.VERSION_REGISTERED, model=model, data={
        "model": model.name, "version": version.version, "version_id": version.pk, "status": version.status,
    })
