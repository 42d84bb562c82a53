"""The hub's tables: events (immutable, cursor-ordered), subscribers, the
delivery outbox with its attempts, API keys, and the record of manual actions.

The delivery table is the source of truth for what still has to be sent;
nothing here may send anything or hold business logic beyond small helpers.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Channel(models.TextChoices):
    LIVE = "live", "live"
    TEST = "test", "test"


class CursorCounter(models.Model):
    """One row per named counter; publishing bumps `value` under its row lock.

    The row lock is held until the publishing transaction commits, so cursors
    are handed out in commit order: see `hub.services.events`.
    """

    name = models.CharField(max_length=32, primary_key=True)
    value = models.BigIntegerField(default=0)

    class Meta:
        db_table = "ess_cursor_counter"

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class ApiKey(models.Model):
    class Scope(models.TextChoices):
        PUBLISH = "publish", "publish"
        REGISTER = "register", "register"
        READ = "read", "read"

    name = models.CharField(max_length=200)
    prefix = models.CharField(max_length=16, help_text="The first characters of the key, to tell keys apart.")
    key_hash = models.CharField(
        max_length=64, unique=True, help_text="SHA-256 of the key; the key itself is not stored."
    )
    scopes = models.JSONField(default=list, blank=True)
    subscriber = models.ForeignKey(
        "Subscriber", null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "ess_api_key"
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class Subscriber(models.Model):
    class Kind(models.TextChoices):
        WEBHOOK = "webhook", "webhook"
        CONNECTOR = "connector", "connector"

    class Source(models.TextChoices):
        API = "api", "API"
        FILE = "file", "file"
        ADMIN = "admin", "admin"

    class State(models.TextChoices):
        ACTIVE = "active", "active"
        PAUSED = "paused", "paused"
        DISABLED = "disabled", "disabled"

    id = models.CharField(max_length=64, primary_key=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.WEBHOOK)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.API)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    url = models.URLField(max_length=2000, blank=True)
    test_url = models.URLField(max_length=2000, blank=True)
    topics = models.JSONField(default=list, blank=True, help_text="Topic patterns: * is one word, # is zero or more.")
    throttle = models.PositiveIntegerField(null=True, blank=True, help_text="Deliveries per second; empty: none.")
    max_retries = models.PositiveSmallIntegerField(default=5)
    retry_base_seconds = models.FloatField(default=30.0)
    redact = models.JSONField(default=list, blank=True, help_text="Dotted paths into data, deleted before signing.")
    # Secrets are Fernet tokens (hub.crypto); the plain secret is shown once.
    secret_encrypted = models.TextField(blank=True)
    previous_secret_encrypted = models.TextField(blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # Connector subscribers (SPEC §7).
    connector = models.CharField(max_length=64, blank=True)
    target = models.JSONField(default=dict, blank=True)
    test_target = models.JSONField(default=dict, blank=True)
    schedule = models.CharField(max_length=100, blank=True)
    # Subscriber files (SPEC §6): the last good version lives in this row.
    file_path = models.CharField(max_length=500, blank=True)
    file_digest = models.CharField(max_length=64, blank=True)
    # Throttle: the next free start slot (GCRA), reserved when claiming.
    throttle_next_at = models.DateTimeField(null=True, blank=True)
    # Denormalised progress, kept by the dispatcher for /ess/status.
    last_ack_at = models.DateTimeField(null=True, blank=True)
    last_ack_cursor = models.BigIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "ess_subscriber"
        ordering = ["id"]

    def __str__(self) -> str:
        return self.id


class Event(models.Model):
    """One published change. Never updated after insert.

    `id` is the cursor. `envelope` holds the exact JSON body a webhook
    subscriber receives (before per-subscriber redaction), so replay, poll and
    events return byte-for-byte what was delivered.
    """

    id = models.BigIntegerField(primary_key=True, verbose_name="cursor")
    uid = models.CharField(max_length=32, unique=True, verbose_name="event id")
    topic = models.CharField(max_length=200)
    channel = models.CharField(max_length=4, choices=Channel.choices, default=Channel.LIVE)
    ts = models.DateTimeField()
    envelope = models.TextField()
    publisher = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    idempotency_scope = models.CharField(max_length=40, blank=True)
    # NULL, not "", means "no key": the unique constraint ignores NULLs.
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001

    class Meta:
        db_table = "ess_event"
        indexes = [models.Index(fields=["ts"], name="ess_event_ts")]
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_scope", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="ess_event_idempotency",
            )
        ]

    def __str__(self) -> str:
        return f"{self.uid} {self.topic} #{self.id}"

    @property
    def cursor(self) -> int:
        return self.id


class Delivery(models.Model):
    """One event for one subscriber: the outbox row the dispatchers claim.

    A claimed delivery has `next_attempt_at` pushed to the end of its lease, so
    a worker that dies mid-send leaves it due again when the lease runs out.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        DELIVERED = "delivered", "delivered"
        DEAD = "dead", "dead"
        SKIPPED = "skipped", "skipped"

    class Origin(models.TextChoices):
        PUBLISH = "publish", "publish"
        REPLAY = "replay", "replay"

    uid = models.CharField(max_length=32, verbose_name="delivery id", help_text="Also the webhook-id.")
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="deliveries")
    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=4, choices=Channel.choices, default=Channel.LIVE)
    origin = models.CharField(max_length=8, choices=Origin.choices, default=Origin.PUBLISH)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    lease_token = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        db_table = "ess_delivery"
        verbose_name_plural = "deliveries"
        indexes = [
            # The dispatchers' hot path: due work, small whatever the table's size.
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="ess_delivery_due"),
            models.Index(fields=["subscriber"], condition=Q(status="pending"), name="ess_delivery_pending_sub"),
            models.Index(fields=["subscriber"], condition=Q(status="dead"), name="ess_delivery_dead_sub"),
            # Staff look a delivery up by the webhook-id a receiver quotes (admin search).
            models.Index(fields=["uid"], name="ess_delivery_uid"),
        ]

    def __str__(self) -> str:
        return self.uid


class Attempt(models.Model):
    """One try of a delivery: when, how long, and what came back."""

    class Outcome(models.TextChoices):
        SUCCESS = "success", "success"
        FAILURE = "failure", "failure"

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_set")
    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="+")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.FloatField()
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        db_table = "ess_attempt"
        indexes = [models.Index(fields=["subscriber", "started_at"], name="ess_attempt_sub_time")]

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number} {self.outcome}"


class FileError(models.Model):
    """A subscriber file that failed to load; cleared when the file loads again."""

    file = models.CharField(max_length=500, unique=True)
    line = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField()
    seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "ess_file_error"
        ordering = ["file"]

    def __str__(self) -> str:
        return f"{self.file}:{self.line or '-'} {self.error}"


class ManualAction(models.Model):
    """Something a person did by hand (admin or command line): who, when, what, to which object.

    Written by the services in the same transaction as the change itself;
    never updated. Holds no secrets: `detail` names changed fields, not values
    of secrets.
    """

    class Action(models.TextChoices):
        SUBSCRIBER_CREATE = "subscriber.create", "subscriber created"
        SUBSCRIBER_EDIT = "subscriber.edit", "subscriber edited"
        SUBSCRIBER_PAUSE = "subscriber.pause", "subscriber paused"
        SUBSCRIBER_RESUME = "subscriber.resume", "subscriber resumed"
        SECRET_ROTATE = "secret.rotate", "secret rotated"
        KEY_CREATE = "key.create", "API key created"
        KEY_REVOKE = "key.revoke", "API key revoked"
        DELIVERY_RETRY = "delivery.retry", "delivery retried"

    at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept as text so the record outlives the user account; "cli:<login>" from the command line.
    actor = models.CharField(max_length=200)
    action = models.CharField(max_length=32, choices=Action.choices)
    target = models.CharField(max_length=200, help_text='What was acted on, e.g. "subscriber:md-mm1" or "api_key:12".')
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "ess_manual_action"
        ordering = ["-id"]
        indexes = [models.Index(fields=["target", "at"], name="ess_manual_action_target")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.target}"
