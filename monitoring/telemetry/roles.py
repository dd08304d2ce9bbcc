"""SLA monitoring permissions per role (imported by TelemetryConfig.ready, synced after migrate).

Everyone who reads deployments reads their telemetry, rules and alerts (teams
still decide which objects); the owning team's practitioners post telemetry,
edit rules and data tests, and acknowledge or resolve alerts.
"""

from modelgate.core import roles

_READ = [
    "telemetry.view_slarule",
    "telemetry.view_alert",
    "telemetry.view_predictionevent",
    "telemetry.view_minutebucket",
    "telemetry.view_hourbucket",
    "telemetry.view_datatest",
    "telemetry.view_datatestresult",
]
_PRACTITIONER = [
    *_READ,
    "telemetry.add_predictionevent",
    "telemetry.add_groundtruth",
    "telemetry.add_slarule",
    "telemetry.change_slarule",
    "telemetry.delete_slarule",
    "telemetry.add_datatest",
    "telemetry.delete_datatest",
    "telemetry.change_alert",
]

roles.grant(roles.DATA_SCIENTIST, *_PRACTITIONER)
roles.grant(roles.ML_ENGINEER, *_PRACTITIONER)
roles.grant(roles.BUSINESS_APPROVER, *_READ)
roles.grant(roles.RISK_OFFICER, *_READ)
roles.grant(roles.AUDITOR, *_READ, "telemetry.view_groundtruth")
