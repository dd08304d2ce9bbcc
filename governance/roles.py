"""Governance permissions per role (synced after migrate by modelgate.core.roles).

Roles decide which actions; teams (guardian object permissions on the
registered model) decide which objects — see ``modelgate.core.permissions``.
"""

from modelgate.core import roles

_READ = [
    "governance.view_environment",
    "governance.view_promotionrequest",
    "governance.view_approval",
    "governance.view_deployment",
    "governance.view_deploymentsplit",
    "governance.view_versionlifecycle",
    "governance.view_citestresult",
]
# Owning-team practitioners open and move requests, deploy, post CI results.
_PRACTITIONER = [
    *_READ,
    "governance.add_promotionrequest",
    "governance.change_promotionrequest",
    "governance.add_deployment",
    "governance.add_citestresult",
    "governance.change_versionlifecycle",
]

roles.grant(roles.DATA_SCIENTIST, *_PRACTITIONER)
roles.grant(
    roles.ML_ENGINEER, *_PRACTITIONER, "governance.approve_promotionrequest", "governance.rollback_deployment"
)
roles.grant(roles.BUSINESS_APPROVER, *_READ, "governance.approve_promotionrequest")
roles.grant(
    roles.RISK_OFFICER,
    *_READ,
    "governance.approve_promotionrequest",
    "governance.approve_override",
    "governance.review_deployment",
)
roles.grant(
    roles.AUDITOR,
    *_READ,
    "governance.view_webhook",
    "governance.view_webhookdelivery",
    "governance.view_webhookallowedaddress",
)
