"""Governance permissions per role (synced after migrate by modelgate.core.roles).

Roles decide which actions; teams (guardian object permissions on the
registered model) decide which objects — see ``modelgate.core.permissions``.
"""

from modelgate.core import roles
from registry import roles as registry_roles

# Second line of defence (SR 11-7 "effective challenge"): validates models of teams they are
# not in (governance.modelrisk checks independence); reads every team's models like a risk officer.
MODEL_VALIDATOR = roles.define_role("model_validator", "Model validator", sees_all_teams=True)

_READ = [
    "governance.view_environment",
    "governance.view_promotionrequest",
    "governance.view_approval",
    "governance.view_deployment",
    "governance.view_deploymentsplit",
    "governance.view_versionlifecycle",
    "governance.view_citestresult",
    # Model risk: the inventory, tier policies, validations, findings and documentation are read by every role.
    "governance.view_inventoryrecord",
    "governance.view_tierpolicy",
    "governance.view_tierrequirement",
    "governance.view_validation",
    "governance.view_finding",
    "governance.view_modeldocument",
]
# Owning-team practitioners open and move requests, deploy, post CI results.
_PRACTITIONER = [
    *_READ,
    "governance.add_promotionrequest",
    "governance.change_promotionrequest",
    "governance.add_deployment",
    "governance.add_citestresult",
    "governance.change_versionlifecycle",
    # Describe and assess their models, remediate findings, write documentation.
    "governance.change_inventoryrecord",
    "governance.change_finding",
    "governance.add_modeldocument",
    "governance.change_modeldocument",
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
    "governance.change_inventoryrecord",
    "governance.override_tier",
    "governance.accept_risk_finding",
    "governance.add_modeldocument",
    "governance.change_modeldocument",
)
roles.grant(
    MODEL_VALIDATOR,
    *registry_roles.VIEW,
    *_READ,
    "governance.add_validation",
    "governance.change_validation",
    "governance.sign_validation",
    "governance.add_finding",
    "governance.change_finding",
)
roles.grant(
    roles.AUDITOR,
    *_READ,
    "governance.view_webhook",
    "governance.view_webhookdelivery",
    "governance.view_webhookallowedaddress",
)
