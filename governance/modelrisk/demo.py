"""Demo world, model-risk part: the credit team's models are Tier 1 / EU high-risk, with
inventory records; credit-scorer v2 has an approved independent validation (by vera, the
model validator) with one closed and one open low finding — seeded before governance's part
promotes it to Prod, whose Tier 1 gates read them; fraud-detector is Tier 2 and its
revalidation is overdue (its validation is backdated: the demo has no past of its own).

Through the same services as the API, so the audit trail is complete. Idempotent.
"""

import datetime

from django.contrib.auth import get_user_model
from django.utils import timezone

from governance.modelrisk import services
from governance.modelrisk.models import Finding, InventoryRecord, Validation
from registry.models import RegisteredModel

CREDIT_ANSWERS = {"materiality": "high", "complexity": "medium", "reliance": "automated",
                  "decisions_about_people": True, "eu_ai_act_category": "high_risk"}
FRAUD_ANSWERS = {"materiality": "high", "complexity": "high", "reliance": "supported",
                 "decisions_about_people": False, "eu_ai_act_category": "minimal"}
MARKETING_ANSWERS = {"materiality": "low", "complexity": "low", "reliance": "supported",
                     "decisions_about_people": False, "eu_ai_act_category": "minimal"}

DESCRIPTIONS = {
    "credit-scorer": {"purpose": "Probability of default of consumer-loan applicants.",
                      "business_use": "Automated approve/decline of consumer loans up to 25,000.",
                      "accountable_executive": "Chief Credit Officer", "output_users": "Loan origination system; underwriters."},
    "fraud-detector": {"purpose": "Card fraud score per transaction.", "business_use": "Queues transactions for analyst review.",
                       "accountable_executive": "Head of Fraud Operations", "output_users": "Fraud analysts."},
}


def _assess(user, model, answers):
    record = InventoryRecord.objects.filter(registered_model=model).first()
    if record is None or record.tier is None:
        details = DESCRIPTIONS.get(model.name)
        if details:
            services.inventory_record_update(user=user, model=model, data={**details, "owner": user})
        record = services.inventory_assess(user=user, model=model, answers=answers)
    return record


def _validate(vera, version, *, scope):
    validation = Validation.objects.filter(version=version, state="signed").first()
    if validation is not None:
        return validation
    validation = services.validation_start(user=vera, version=version, scope=scope)
    checklist = {item: {"result": "satisfactory", "note": "Demo: reviewed."} for item in validation.checklist}
    services.validation_update(user=vera, validation=validation, checklist=checklist)
    return services.validation_sign(user=vera, validation=validation, outcome="approved",
                                    summary="Conceptually sound; outcomes and fairness within appetite.")


def seed(stdout, context):
    User = get_user_model()
    dana, otto, mara, vera = (User.objects.get(username=u) for u in ("dana", "otto", "mara", "vera"))
    models = {m.name: m for m in RegisteredModel.objects.select_related("team")}
    for model in models.values():
        owner = {"credit": dana, "fraud": otto, "marketing": mara}.get(model.team.slug)
        if owner is None:
            continue
        answers = {"credit": CREDIT_ANSWERS, "fraud": FRAUD_ANSWERS, "marketing": MARKETING_ANSWERS}[model.team.slug]
        _assess(owner, model, answers)
    stdout.write("Model risk:\n")
    tour = context.setdefault("tour", [])
    scorer_versions = (context.get("versions") or {}).get("credit-scorer")
    if scorer_versions and len(scorer_versions) > 1:
        v2 = scorer_versions[1]
        validation = _validate(vera, v2, scope="Initial validation of the retrained scorer before Prod.")
        if not Finding.objects.filter(validation=validation).exists():
            today = timezone.localdate()
            closed = services.finding_create(
                user=vera, validation=validation, title="Reject-inference assumption undocumented", severity="low",
                description="The treatment of declined applicants is not written down.", owner=dana,
                due_date=today + datetime.timedelta(days=14))
            services.finding_submit_remediation(user=dana, finding=closed, remediation="Section added to the documentation.")
            services.finding_close(user=vera, finding=closed, comment="Read the new section; sufficient.")
            services.finding_create(
                user=vera, validation=validation, title="Back-test window shorter than a credit cycle", severity="low",
                description="Outcomes cover 18 months; extend to a full cycle when data allows.", owner=dana,
                due_date=today + datetime.timedelta(days=90))
        stdout.write("  credit-scorer v2: Tier 1 / EU high-risk, validation approved by vera; one closed, one open low finding.\n")
        tour.append(("Model inventory for the risk committee (log in as rick or vera)", "/governance/model-risk/"))
        tour.append(("credit-scorer's risk page: tier, validation, findings", "/governance/model-risk/models/credit-scorer/"))
    fraud_versions = (context.get("versions") or {}).get("fraud-detector")
    if fraud_versions:
        validation = _validate(vera, fraud_versions[0], scope="Annual validation of the card fraud score.")
        overdue_since = timezone.localdate() - datetime.timedelta(days=20)
        if validation.valid_until is None or validation.valid_until > overdue_since:
            # Demo only: pretend it was signed two years ago, so its revalidation is overdue now.
            Validation.objects.filter(pk=validation.pk).update(
                signed_at=timezone.now() - datetime.timedelta(days=750), valid_until=overdue_since)
        stdout.write("  fraud-detector: Tier 2, revalidation overdue since "
                     f"{overdue_since.isoformat()}.\n")
    return context
