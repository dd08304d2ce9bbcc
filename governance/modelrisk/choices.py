from django.db import models


class Level(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class Reliance(models.TextChoices):
    AUTOMATED = "automated", "Automated decision (no human in the loop)"
    SUPPORTED = "supported", "Supports a human decision"
    INFORMATIONAL = "informational", "Informational only"


class EuAiActCategory(models.TextChoices):
    PROHIBITED = "prohibited", "Prohibited (Art. 5)"
    HIGH_RISK = "high_risk", "High-risk (Annex III)"
    LIMITED = "limited", "Limited risk (transparency duties)"
    MINIMAL = "minimal", "Minimal risk"


class ModelSource(models.TextChoices):
    IN_HOUSE = "in_house", "Built in-house"
    VENDOR = "vendor", "Vendor model"


class Tier(models.IntegerChoices):
    TIER_1 = 1, "Tier 1 (highest risk)"
    TIER_2 = 2, "Tier 2"
    TIER_3 = 3, "Tier 3 (lowest risk)"


class ValidationState(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    SIGNED = "signed", "Signed"


class ValidationOutcome(models.TextChoices):
    NONE = "", "Not decided"
    APPROVED = "approved", "Approved"
    APPROVED_WITH_CONDITIONS = "approved_with_conditions", "Approved with conditions"
    NOT_APPROVED = "not_approved", "Not approved"


APPROVING_OUTCOMES = (ValidationOutcome.APPROVED, ValidationOutcome.APPROVED_WITH_CONDITIONS)


class ChecklistItem(models.TextChoices):
    CONCEPTUAL_SOUNDNESS = "conceptual_soundness", "Conceptual soundness"
    DATA = "data", "Data quality and relevance"
    OUTCOMES = "outcomes", "Outcomes analysis / back-testing"
    FAIRNESS = "fairness", "Fairness"
    EXPLAINABILITY = "explainability", "Explainability"
    IMPLEMENTATION = "implementation", "Implementation and controls"


class ChecklistResult(models.TextChoices):
    PENDING = "pending", "Not assessed"
    SATISFACTORY = "satisfactory", "Satisfactory"
    NEEDS_IMPROVEMENT = "needs_improvement", "Needs improvement"
    UNSATISFACTORY = "unsatisfactory", "Unsatisfactory"
    NOT_APPLICABLE = "not_applicable", "Not applicable"


class Severity(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


SEVERITY_RANK = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3}


class FindingState(models.TextChoices):
    OPEN = "open", "Open"
    REMEDIATION_SUBMITTED = "remediation_submitted", "Remediation submitted"
    CLOSED = "closed", "Closed"
    RISK_ACCEPTED = "risk_accepted", "Risk accepted"


# state -> states it may move to (closing and accepting are done by different roles: see services).
FINDING_TRANSITIONS: dict[str, tuple[str, ...]] = {
    FindingState.OPEN: (FindingState.REMEDIATION_SUBMITTED, FindingState.RISK_ACCEPTED),
    FindingState.REMEDIATION_SUBMITTED: (FindingState.CLOSED, FindingState.OPEN, FindingState.RISK_ACCEPTED),
    FindingState.CLOSED: (),
    FindingState.RISK_ACCEPTED: (FindingState.OPEN,),  # an expired acceptance reopens
}
UNRESOLVED_FINDING_STATES = (FindingState.OPEN, FindingState.REMEDIATION_SUBMITTED)
