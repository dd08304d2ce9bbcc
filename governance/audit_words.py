"""Governance's audit events in sentences and dropdown labels (registered in ``GovernanceConfig.ready()``)."""

from __future__ import annotations

import functools
import re

from modelgate.core import readable
from modelgate.core.sentences import quoted, register_audit_actions

_REQUEST = re.compile(r"#(?P<pk>\d+) (?P<version>.+) → (?P<env>\S+)")


@functools.lru_cache(maxsize=32)
def environment_name(slug: str) -> str:
    """Prod, UAT… as the environment is named; cleared when a policy changes (``environment_update_policy``)."""
    from governance.models import Environment

    return Environment.objects.filter(slug=slug).values_list("name", flat=True).first() or slug


def _request(event) -> tuple[str, str, str]:
    """(request number, "credit-scoring v2", "Prod") from the request's stored description."""
    match = _REQUEST.match(event.object_repr or "")
    if match is None:
        return event.object_id, event.object_repr, ""
    return match["pk"], match["version"], environment_name(match["env"])


def _approval(event, said, verb):
    _pk, version, env = _request(event)
    approval = said.after("approval") or {}
    role = approval.get("role", "").replace("_", " ")
    return f"{verb} {version} for {env}" + (f" as {role}" if role else "") + quoted(approval.get("comment"))


def _splits(splits) -> str:
    return ", ".join(f"v{s['version']} {s['weight']} %" for s in splits or [])


def _deployment(event, said, verb):
    env = environment_name(said.after("environment", "")) if said.after("environment") else ""
    text = f"{verb} {event.model_name}" + (f" to {env}" if env else "")
    if said.after("splits"):
        text += f" ({_splits(said.after('splits'))})"
    return text


def _request_words(template):
    def sentence(event, said):
        pk, version, env = _request(event)
        return template.format(pk=pk, version=version, env=env)
    return sentence


ACTIONS = {
    "promotion.create": ("Opened a promotion request", _request_words("asked to put {version} into {env} (request #{pk})")),
    "promotion.update": ("Edited a promotion request", _request_words("edited request #{pk} ({version} → {env})")),
    "promotion.submit": ("Submitted a promotion request", lambda e, s: _request_words("submitted request #{pk}: {version} → {env}")(e, s)
                         + ("; every gate passed" if s.after("gates_passed") else "; a gate needs an override")),
    "promotion.approve": ("Approved a promotion request", lambda e, s: _approval(e, s, "approved")),
    "promotion.reject": ("Rejected a promotion request", lambda e, s: _approval(e, s, "rejected")),
    "promotion.approved": ("Request fully approved", _request_words("completed the approvals: {version} may go to {env} (request #{pk})")),
    "promotion.rejected": ("Request rejected", _request_words("closed request #{pk} as rejected ({version} → {env})")),
    "promotion.override_decide": ("Decided a gate override", lambda e, s: _request_words(
        f"{'accepted' if s.after('override_state') == 'approved' else 'refused'} the gate override on request #{{pk}} ({{version}} → {{env}})")(e, s)
        + s.quote("comment")),
    "promotion.cancel": ("Cancelled a promotion request", lambda e, s: _request_words("cancelled request #{pk} ({version} → {env})")(e, s)
                         + (s.quote("comment") or s.quote("reason"))),
    "promotion.expire": ("Approval expired", _request_words("expired request #{pk} ({version} → {env}): its approval grew too old")),
    "promotion.deployed": ("Deployed an approved request", _request_words("deployed {version} to {env} (request #{pk})")),
    "promotion.evidence_pack": ("Generated an evidence pack", lambda e, s: _request_words("generated the evidence pack of request #{pk} "
                                "({version} → {env})")(e, s) + f" as {str(s.after('format', '')).upper()}, SHA-256 {str(s.after('sha256', ''))[:16]}…"),
    "deployment.create": ("Deployed", lambda e, s: _deployment(e, s, "deployed")),
    "deployment.rollback": ("Rolled a deployment back", lambda e, s: f"rolled {e.model_name} back to {_splits(s.after('splits'))}"),
    "deployment.retire": ("Retired a deployment", lambda e, s: f"retired {e.object_repr}" + s.quote("note")),
    "deployment.review": ("Recorded a periodic review", lambda e, s: f"recorded the periodic review of {e.object_repr}; next due "
                          f"{readable.when(s.after('review_by'))}" + s.quote("comment")),
    "ci_result.post": ("Posted a CI test result", lambda e, s: f"posted a {'passed' if s.after('passed') else 'failed'} "
                       f"{s.after('kind', 'CI')} test result for {e.object_repr.split(' ')[0]} {e.object_repr.split(' ')[1]}"),
    "environment.update_policy": ("Changed an environment's policy", lambda e, s: f"changed {e.object_repr}'s policy: "
                                  f"{', '.join(readable.label(k).lower() for k in (e.changes or {}))}"),
    "version.retired": ("Retired a version", lambda e, s: f"retired {e.object_repr}" + s.quote("reason")),
    "version.archived": ("Archived a version", lambda e, s: f"archived {e.object_repr}" + s.quote("reason")),
    "version.reactivate": ("Reactivated a version", lambda e, s: f"reactivated {e.object_repr}" + s.quote("reason")),
    "webhook.create": ("Created a webhook", lambda e, s: f"created webhook “{e.object_repr}” to {s.after('url')}"),
    "webhook.update": ("Changed a webhook", lambda e, s: f"changed webhook “{e.object_repr}”"),
    "webhook.delete": ("Deleted a webhook", lambda e, s: f"deleted webhook “{e.object_repr}”"),
    "webhook.redeliver": ("Redelivered a webhook", lambda e, s: f"asked to redeliver {e.object_repr}"),
    "webhook.allow_address": ("Allowed a webhook address", lambda e, s: f"allowed webhooks to reach {s.after('network')}"),
    "webhook.disallow_address": ("Disallowed a webhook address", lambda e, s: f"stopped webhooks reaching {s.before('network')}"),
}


def register() -> None:
    register_audit_actions({k: v for k, v in ACTIONS.items() if k.startswith("promotion.")}, group=("promotion", "Promotion requests"))
    register_audit_actions({k: v for k, v in ACTIONS.items() if k.startswith("deployment.")}, group=("deployment", "Deployments"))
    register_audit_actions({k: v for k, v in ACTIONS.items() if k.startswith("ci_result.")}, group=("ci_result", "CI results"))
    register_audit_actions({k: v for k, v in ACTIONS.items() if k.startswith("environment.")}, group=("environment", "Environments"))
    register_audit_actions({k: v for k, v in ACTIONS.items() if k.startswith("version.")}, group=("version", "Version lifecycle"))
    register_audit_actions({k: v for k, v in ACTIONS.items() if k.startswith("webhook.")}, group=("webhook", "Webhooks"))
