from django.db import models


class RequestState(models.TextChoices):
    DRAFT = "draft", "Draft"
    PENDING = "pending", "Pending approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"
    DEPLOYED = "deployed", "Deployed"


# The state machine of a promotion request: state -> states it may move to.
REQUEST_TRANSITIONS: dict[str, tuple[str, ...]] = {
    RequestState.DRAFT: (RequestState.PENDING, RequestState.CANCELLED),
    RequestState.PENDING: (RequestState.APPROVED, RequestState.REJECTED, RequestState.CANCELLED, RequestState.EXPIRED),
    RequestState.APPROVED: (RequestState.DEPLOYED, RequestState.CANCELLED, RequestState.EXPIRED),
    RequestState.REJECTED: (),
    RequestState.CANCELLED: (),
    RequestState.EXPIRED: (),
    RequestState.DEPLOYED: (),
}
OPEN_REQUEST_STATES = (RequestState.DRAFT, RequestState.PENDING, RequestState.APPROVED)


class Decision(models.TextChoices):
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class DeploymentStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUPERSEDED = "superseded", "Superseded"
    ROLLED_BACK = "rolled_back", "Rolled back"
    RETIRED = "retired", "Retired"


class LifecycleState(models.TextChoices):
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"
    ARCHIVED = "archived", "Archived"


class TestKind(models.TextChoices):
    UNIT = "unit", "Unit tests"
    E2E = "e2e", "End-to-end tests"
    ACCEPTANCE = "acceptance", "Acceptance test"
    AB_COMPARISON = "ab_comparison", "A/B comparison"


class OverrideState(models.TextChoices):
    NONE = "", "No override"
    PENDING = "pending", "Awaiting approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class WebhookEvent(models.TextChoices):
    VERSION_REGISTERED = "version.registered", "Version registered"
    REQUEST_OPENED = "request.opened", "Promotion request opened"
    REQUEST_APPROVED = "request.approved", "Promotion request approved"
    REQUEST_REJECTED = "request.rejected", "Promotion request rejected"
    DEPLOYED = "deployment.deployed", "Deployed"
    ROLLED_BACK = "deployment.rolled_back", "Rolled back"
    # Emitted by SLA monitoring (monitoring.telemetry) through the same signed outbox.
    ALERT_OPENED = "alert.opened", "SLA alert opened"
    ALERT_ACKNOWLEDGED = "alert.acknowledged", "SLA alert acknowledged"
    ALERT_RESOLVED = "alert.resolved", "SLA alert resolved"
    # Model risk management (governance.modelrisk).
    VALIDATION_SIGNED = "validation.signed", "Validation signed"
    VALIDATION_OVERDUE = "validation.overdue", "Revalidation overdue"
    FINDING_OPENED = "finding.opened", "Validation finding opened"
    FINDING_OVERDUE = "finding.overdue", "Validation finding overdue"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Delivered"
    RETRYING = "retrying", "Retrying"
    FAILED = "failed", "Failed (gave up)"
