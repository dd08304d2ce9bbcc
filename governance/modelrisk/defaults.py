"""Default tier policies (data; administrators edit them afterwards, audited).

Tier 1: Prod needs an approved, current independent validation and no open finding of
medium severity or more, an SLA rule on error rate and p95 latency, review every 180 days;
UAT no open high finding. Tier 2: Prod needs an approved validation and no open high
finding, yearly review. Tier 3: Prod no open high finding. Prod requires a risk assessment.
Used by the data migration and after a flush (``GovernanceConfig``)."""

ALL_ITEMS = ["conceptual_soundness", "data", "outcomes", "fairness", "explainability", "implementation"]

TIER_POLICIES = [
    {"tier": 1, "description": "Highest risk: material, complex or regulated decisions about people (EU high-risk).",
     "revalidation_interval_days": 365, "checklist": ALL_ITEMS},
    {"tier": 2, "description": "Moderate risk.", "revalidation_interval_days": 730,
     "checklist": ["conceptual_soundness", "data", "outcomes", "implementation"]},
    {"tier": 3, "description": "Low risk.", "revalidation_interval_days": 1095,
     "checklist": ["conceptual_soundness", "outcomes"]},
]

TIER_REQUIREMENTS = [
    (1, "uat", {"gates": [{"kind": "no_open_findings", "params": {"min_severity": "high"}}]}),
    (1, "prod", {"gates": [{"kind": "validation_approved", "params": {}},
                           {"kind": "no_open_findings", "params": {"min_severity": "medium"}}],
                 "required_monitoring_rules": ["error_rate", "latency_p95"], "review_interval_days": 180}),
    (2, "prod", {"gates": [{"kind": "validation_approved", "params": {}},
                           {"kind": "no_open_findings", "params": {"min_severity": "high"}}],
                 "review_interval_days": 365}),
    (3, "prod", {"gates": [{"kind": "no_open_findings", "params": {"min_severity": "high"}}]}),
]


def seed(apps, schema_editor=None):
    Environment = apps.get_model("governance", "Environment")
    TierPolicy = apps.get_model("governance", "TierPolicy")
    TierRequirement = apps.get_model("governance", "TierRequirement")
    if TierPolicy.objects.exists():
        return
    policies = {}
    for values in TIER_POLICIES:
        policies[values["tier"]] = TierPolicy.objects.create(**values)
    environments = {e.slug: e for e in Environment.objects.all()}
    for tier, slug, values in TIER_REQUIREMENTS:
        if slug in environments:
            TierRequirement.objects.create(policy=policies[tier], environment=environments[slug], **values)
    Environment.objects.filter(slug="prod").update(requires_risk_assessment=True)


def unseed(apps, schema_editor=None):
    apps.get_model("governance", "TierPolicy").objects.all().delete()
