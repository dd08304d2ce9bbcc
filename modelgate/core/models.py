import hashlib
import uuid

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models
from django.utils import timezone


class Team(models.Model):
    """A team owns models. Membership is the team's auth group, so guardian
    object permissions granted to the group reach every member."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=128, unique=True)
    description = models.TextField(blank=True)
    group = models.OneToOneField(Group, on_delete=models.PROTECT, related_name="team")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    """A bearer token for CI service accounts.

    Only the SHA-256 of the token is stored. Tokens are 256 random bits, so a
    fast hash is enough (no password hashing) and checking one is an indexed
    lookup.
    """

    PREFIX = "mg_"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    key_prefix = models.CharField(max_length=12, help_text="First characters, to recognise a token in lists.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.key_prefix}…)"

    @staticmethod
    def hash_key(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    @property
    def is_active(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Job(models.Model):
    """One background task: the source of truth for its status and progress.

    Created in the caller's transaction and dispatched on commit; the table is
    also the outbox: a queued job whose dispatch was lost (broker down) is sent
    again by the sweeper.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=100, db_index=True)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(100)])
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    object_type = models.CharField(max_length=100, blank=True, help_text="What the job works on, e.g. registry.modelversion")
    object_id = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True, help_text="host:pid of the process that last claimed the job")
    # A job whose work splits by rows fans out into chunk jobs (``modelgate.core.jobs.FanOut``):
    # the parent waits ``running`` while ``chunks_done`` counts finished chunks, then runs its merge.
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="chunks")
    chunk_index = models.PositiveIntegerField(null=True, blank=True, help_text="Position of a chunk among its parent's chunks")
    chunks_total = models.PositiveIntegerField(default=0, help_text="Chunks the job fanned out into (0: not chunked)")
    chunks_done = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["object_type", "object_id"])]
        constraints = [
            models.UniqueConstraint(fields=["parent", "chunk_index"], name="core_job_unique_chunk_index"),
            models.CheckConstraint(condition=models.Q(chunks_done__lte=models.F("chunks_total")), name="core_job_chunks_done_lte_total"),
        ]

    def __str__(self):
        return f"{self.kind} {self.id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (JobStatus.SUCCEEDED, JobStatus.FAILED)

    @property
    def is_waiting_for_chunks(self) -> bool:
        return self.status == JobStatus.RUNNING and self.chunks_done < self.chunks_total

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class AuditEvent(models.Model):
    """Append-only, hash-chained record of every write.

    ``hash`` is the SHA-256 of the event's canonical content plus
    ``prev_hash``; editing or deleting any past event breaks the chain from
    that event on. On PostgreSQL a trigger refuses UPDATE and DELETE.
    Actor columns are plain values (no foreign key) so deleting a user never
    rewrites history.
    """

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor_username = models.CharField(max_length=150, blank=True)
    token_id = models.BigIntegerField(null=True, blank=True)
    source = models.CharField(max_length=16, blank=True, help_text="api, portal, admin, task, command, system")
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=255, blank=True)
    team_slug = models.CharField(max_length=64, blank=True)
    model_name = models.CharField(max_length=128, blank=True, help_text="Registered model concerned, if any")
    # The registered model concerned, by id: its history follows it across renames and is
    # never matched to a later model of the same name. A plain id (no foreign key): the
    # model may be deleted, and plumbing refers to no app. Hashed when set (audit.canonical).
    registered_model_id = models.BigIntegerField(null=True, blank=True, help_text="Id of the registered model concerned, if any")
    changes = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64, validators=[RegexValidator(r"^[0-9a-f]{64}$")])
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["id"]
        # Every write appends here, so every index is paid on every write. Plain
        # B-trees for the equality filters; no varchar_pattern_ops twins (Django adds
        # one per db_index/unique CharField on PostgreSQL) except on ``action``,
        # which the audit page filters by prefix; (object_type, object_id) also
        # serves object_type alone.
        indexes = [
            models.Index(fields=["object_type", "object_id"]),
            models.Index(fields=["actor_username"], name="core_audit_actor_username_idx"),
            models.Index(fields=["model_name"], name="core_audit_model_name_idx"),
            models.Index(fields=["registered_model_id"], name="core_audit_model_id_idx"),
        ]
        constraints = [models.UniqueConstraint(fields=["hash"], name="core_audit_hash_unique")]

    def __str__(self):
        return f"#{self.id} {self.action} {self.object_type}:{self.object_id} by {self.actor_username or 'system'}"


class AuditChainHead(models.Model):
    """Singleton row locked while appending, so concurrent writers link the
    chain in a single order."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_hash = models.CharField(max_length=64)
    last_event_id = models.BigIntegerField(default=0)

    def __str__(self):
        return f"audit chain head at #{self.last_event_id}"


class AccessLog(models.Model):
    """Who downloaded what (artifacts, model cards, report files): read access, kept outside the
    audit chain so a busy CI pulling artifacts never queues on the chain head. Append-only by
    convention; auditors read and export it."""

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_username = models.CharField(max_length=150, blank=True)
    token_id = models.BigIntegerField(null=True, blank=True)
    source = models.CharField(max_length=16, blank=True, help_text="api, portal, mlflow")
    kind = models.CharField(max_length=32, help_text="artifact, model_card…")
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=255, blank=True)
    model_name = models.CharField(max_length=128, blank=True)
    registered_model_id = models.BigIntegerField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True, help_text="e.g. the byte range served")
    request_id = models.CharField(max_length=64, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["actor_username"], name="core_access_actor_idx"),
                   models.Index(fields=["registered_model_id"], name="core_access_model_idx")]

    def __str__(self):
        return f"{self.actor_username or 'system'} downloaded {self.object_repr} ({self.kind})"


class IdpMembership(models.Model):
    """A group membership (a team's group or a role's group) that the identity provider
    gave: sign-in sync adds and removes these and only these. A membership of the same
    user and group with no row here was granted by hand and is never touched by sync."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idp_memberships")
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="idp_memberships")
    claim_value = models.CharField(max_length=255, help_text="The claim value (directory group) that maps to it.")
    granted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "group"], name="core_idp_membership_unique")]

    def __str__(self):
        return f"{self.user_id} in {self.group_id} from {self.claim_value}"


class SsoIdentity(models.Model):
    """Who a user is at the identity provider (issuer + subject, as OpenID Connect
    identifies people) and when they last signed in there: API tokens of a user who
    has not signed in for SSO_TOKEN_MAX_IDLE_DAYS stop working."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identity")
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    last_login_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="core_sso_identity_unique")]

    def __str__(self):
        return f"{self.subject} at {self.issuer}"
