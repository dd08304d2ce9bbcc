"""The default environments, mirroring the policy table of the source documents:
Dev (owning team deploys directly), UAT (an ML engineer approves), Prod (a
business approver and a risk officer approve; read-only; yearly review).

Seeded by migration 0002 and again after a flush (``GovernanceConfig``). The
values must stay valid for the schema of migration 0002: ``seed`` runs with
historical models there.
"""

PROTECTED = ["gender", "sex", "ethnicity", "race", "religion", "marital_status", "nationality"]

ENVIRONMENTS = [
    {
        "slug": "dev", "name": "Dev", "order": 10,
        "description": "Development: the owning team's data scientists deploy directly.",
        "direct_deploy_roles": ["data_scientist", "ml_engineer"],
        "required_approver_roles": [],
        "gates": [],
        "read_only": False, "requires_previous_environment": False,
        "review_interval_days": None, "approval_max_age_days": None, "protected_attributes": PROTECTED,
    },
    {
        "slug": "uat", "name": "UAT", "order": 20,
        "description": "User acceptance: an ML engineer approves; CI unit and end-to-end tests must pass.",
        "direct_deploy_roles": [],
        "required_approver_roles": ["ml_engineer"],
        "gates": [
            {"kind": "ci_test_results", "params": {"required": ["unit", "e2e"]}},
            {"kind": "metric_threshold", "params": {"metric": "auc", "op": ">=", "value": 0.7}},
        ],
        "read_only": False, "requires_previous_environment": False,
        "review_interval_days": None, "approval_max_age_days": 30, "protected_attributes": PROTECTED,
    },
    {
        "slug": "prod", "name": "Prod", "order": 30,
        "description": "Production: a business approver and a risk officer approve; changes only through approved promotions.",
        "direct_deploy_roles": [],
        "required_approver_roles": ["business_approver", "risk_officer"],
        "gates": [
            {"kind": "in_previous_environment", "params": {}},
            {"kind": "metric_threshold", "params": {"metric": "auc", "op": ">=", "value": 0.8}},
            {"kind": "ci_test_results", "params": {"required": ["unit", "e2e", "acceptance"]}},
            {"kind": "latency_acceptance", "params": {"max_p95_ms": 200}},
            {"kind": "no_protected_attribute_input", "params": {}},
        ],
        "read_only": True, "requires_previous_environment": True,
        "review_interval_days": 365, "approval_max_age_days": 30, "protected_attributes": PROTECTED,
    },
]


def seed_environments(apps, schema_editor):
    Environment = apps.get_model("governance", "Environment")
    for values in ENVIRONMENTS:
        Environment.objects.update_or_create(slug=values["slug"], defaults=values)


def unseed_environments(apps, schema_editor):
    apps.get_model("governance", "Environment").objects.filter(slug__in=[e["slug"] for e in ENVIRONMENTS]).delete()
