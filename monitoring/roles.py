"""Role grants for monitoring (object-less permissions: which actions).

Reports section: owning-team practitioners attach datasets, request reports and
edit model cards; reviewers (approvers, risk, auditors) read them. Teams decide
which objects through ``restrict`` on the registered model.
"""

from governance.roles import MODEL_VALIDATOR
from modelgate.core import roles

_REPORTS_READ = ["monitoring.view_evaluationdataset", "monitoring.view_report", "monitoring.view_modelcard"]
_REPORTS_WRITE = [
    "monitoring.add_evaluationdataset", "monitoring.add_report",
    "monitoring.add_modelcard", "monitoring.change_modelcard",
]

roles.grant(roles.DATA_SCIENTIST, *_REPORTS_READ, *_REPORTS_WRITE)
roles.grant(roles.ML_ENGINEER, *_REPORTS_READ, *_REPORTS_WRITE)
for _role in (roles.BUSINESS_APPROVER, roles.RISK_OFFICER, MODEL_VALIDATOR, roles.AUDITOR):
    roles.grant(_role, *_REPORTS_READ)
