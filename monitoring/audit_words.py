"""Monitoring's audit events in sentences and dropdown labels (registered in ``MonitoringConfig.ready()``)."""

from modelgate.core import readable
from modelgate.core.sentences import register_audit_actions

REPORTS = {
    "monitoring.dataset.attach": ("Attached an evaluation dataset", lambda e, s: f"attached evaluation dataset {e.object_repr}"),
    "monitoring.report.request": ("Requested a report", lambda e, s: f"requested a {s.after('kind')} report on {e.model_name} "
                                  f"(dataset “{s.after('dataset')}”)"),
    "monitoring.report.succeed": ("Report computed", lambda e, s: f"computed {e.object_repr}"
                                  + (f": verdict {e.changes.get('verdict')}" if e.changes.get("verdict") else "")),
    "monitoring.report.fail": ("Report failed", lambda e, s: f"failed to compute {e.object_repr}: {str(e.changes.get('error', ''))[:120]}"),
    "monitoring.whatif.request": ("Asked a what-if", lambda e, s: f"asked a what-if of {e.model_name}"),
    "monitoring.modelcard.generate": ("Generated a model card", lambda e, s: f"generated the model card of {e.model_name}"),
    "monitoring.modelcard.update": ("Edited a model card", lambda e, s: f"edited the model card of {e.model_name}"),
}
TELEMETRY = {
    "telemetry.alert.open": ("Alert opened", lambda e, s: f"opened {e.object_repr.split(' (')[0]}"
                             + (f" at {readable.number(s.after('value'))}" if s.after("value") is not None else "")),
    "telemetry.alert.acknowledge": ("Alert acknowledged", lambda e, s: f"acknowledged alert #{e.object_id}" + s.quote("comment")),
    "telemetry.alert.resolve": ("Alert resolved", lambda e, s: f"resolved alert #{e.object_id}" + s.quote("resolution")),
    "telemetry.sla_rule.create": ("Created an SLA rule", lambda e, s: f"created SLA rule “{e.object_repr}” on {e.model_name}"),
    "telemetry.sla_rule.update": ("Changed an SLA rule", lambda e, s: f"changed SLA rule “{e.object_repr}” on {e.model_name}"),
    "telemetry.sla_rule.delete": ("Deleted an SLA rule", lambda e, s: f"deleted SLA rule “{e.object_repr}” on {e.model_name}"),
    "telemetry.data_test.create": ("Created a data test", lambda e, s: f"created data test {e.object_repr} on {e.model_name}"),
    "telemetry.data_test.delete": ("Deleted a data test", lambda e, s: f"deleted data test {e.object_repr} on {e.model_name}"),
}


def register() -> None:
    register_audit_actions(REPORTS, group=("monitoring", "Reports and model cards"))
    register_audit_actions(TELEMETRY, group=("telemetry", "SLA monitoring"))
