"""Claiming due deliveries: leases, the throttle's slots, and what each subscriber is sent.

A claim leases rows (next_attempt_at pushed to the end of the lease, a fresh
lease_token), so a worker that dies leaves them due again when the lease runs
out. Must never send anything: hub.dispatch sends what a claim returns.
"""

import json
import secrets as _random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import Min, Q

from hub.models import Channel, Delivery, Subscriber
from hub.redaction import redact, redaction_paths
from hub.services.deliveries.clock import database_now
from hub.services.secrets import subscriber_signing_secrets

# A throttled subscriber's deliveries are claimed only for slots this close ahead:
# the sender holds each until its slot, so this bounds the wait inside a lease.
THROTTLE_HORIZON_SECONDS = 1.0


@dataclass(frozen=True)
class ClaimedDelivery:
    """Everything a sender needs, read at claim time; senders never touch the database."""

    id: int
    uid: str
    lease_token: int
    subscriber_id: str
    cursor: int
    topic: str
    channel: str
    attempt: int  # the number of this try, 1 for the first
    url: str  # test_url for a test event; "" when there is none (skipped, never sent)
    body: bytes  # the envelope as this subscriber receives it (redacted)
    secrets: tuple[str, ...]  # newest first
    max_retries: int
    retry_base_seconds: float
    start_at: float  # time.monotonic() at which the request may start: its throttle slot
    problem: str = ""  # why it cannot be sent now (e.g. a secret that does not decrypt)


@dataclass
class Claim:
    deliveries: list[ClaimedDelivery]
    # Due deliveries were left unclaimed because their subscriber's throttle is full for
    # now; other subscribers' deliveries may be waiting behind them, so claim again.
    throttled: bool = False


def _due(now: datetime, horizon_end: datetime):
    """Due deliveries of active webhook subscribers whose throttle has a slot before `horizon_end`.

    Connector subscribers' deliveries are left to their own dispatch.
    """
    throttle_open = (
        Q(subscriber__throttle__isnull=True)
        | Q(subscriber__throttle=0)
        | Q(subscriber__throttle_next_at__isnull=True)
        | Q(subscriber__throttle_next_at__lt=horizon_end)
    )
    return (
        Delivery.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(
            throttle_open,
            status=Delivery.Status.PENDING,
            next_attempt_at__lte=now,
            subscriber__state=Subscriber.State.ACTIVE,
            subscriber__kind=Subscriber.Kind.WEBHOOK,
        )
        .order_by("next_attempt_at", "id")
    )


def _reserve_slots(due: list[tuple[int, str, int | None]], horizon: float) -> tuple[dict[int, float], bool]:
    """Give each due delivery its start time; returns ({delivery id: monotonic start}, throttled).

    Throttled subscribers (GCRA): their rows are locked, each delivery takes
    slot = max(now, throttle_next_at) and moves throttle_next_at on by
    1/throttle, and only slots before now + horizon are taken. The lock makes
    the pacing hold across every worker on every machine.
    """
    throttled_ids = sorted({subscriber_id for _, subscriber_id, rate in due if rate})
    now, clock = database_now()
    starts = {delivery_id: clock for delivery_id, _, rate in due if not rate}
    if not throttled_ids:
        return starts, False
    locked = Subscriber.objects.select_for_update().filter(pk__in=throttled_ids).order_by("pk")
    rows = list(locked.values_list("pk", "throttle", "throttle_next_at"))
    now, clock = database_now()  # after the lock wait, so no slot is placed in the past
    horizon_end = now + timedelta(seconds=horizon)
    next_free = {pk: (rate, max(now, next_at or now)) for pk, rate, next_at in rows}
    reserved: set[str] = set()
    throttled = False
    for delivery_id, subscriber_id, _ in due:
        if subscriber_id not in next_free:
            continue
        rate, slot = next_free[subscriber_id]
        if not rate:  # the throttle was removed meanwhile
            starts[delivery_id] = clock
            continue
        if slot >= horizon_end:
            throttled = True
            continue
        starts[delivery_id] = clock + (slot - now).total_seconds()
        next_free[subscriber_id] = (rate, slot + timedelta(seconds=1 / rate))
        reserved.add(subscriber_id)
    Subscriber.objects.bulk_update(
        [Subscriber(pk=pk, throttle_next_at=next_free[pk][1]) for pk in sorted(reserved)], ["throttle_next_at"]
    )
    return starts, throttled


# What a sender needs of a claimed delivery, its event and its subscriber, in one row.
_CLAIMED_COLUMNS = """
    d.id, d.uid, d.channel, d.attempts, d.subscriber_id, d.event_id, e.topic, e.envelope,
    s.url, s.test_url, s.max_retries, s.retry_base_seconds, s.redact,
    s.secret_encrypted, s.previous_secret_encrypted, s.previous_secret_expires_at
"""

# PostgreSQL, subscribers without a throttle: lock, lease and read in one
# statement (one round trip, no explicit transaction); at a few hundred
# events a second most claims hold a single delivery, so round trips dominate.
_CLAIM_UNTHROTTLED = f"""
WITH due AS (
    SELECT d.id FROM ess_delivery d JOIN ess_subscriber s ON s.id = d.subscriber_id
    WHERE d.status = 'pending' AND d.next_attempt_at <= %(now)s
      AND s.state = 'active' AND s.kind = 'webhook' AND COALESCE(s.throttle, 0) = 0
    ORDER BY d.next_attempt_at, d.id
    LIMIT %(limit)s
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE ess_delivery d
SET next_attempt_at = %(lease_end)s, lease_expires_at = %(lease_end)s, lease_token = %(token)s
FROM due, ess_event e, ess_subscriber s
WHERE d.id = due.id AND e.id = d.event_id AND s.id = d.subscriber_id
RETURNING {_CLAIMED_COLUMNS}
"""

_READ_CLAIMED = """
SELECT {columns}
FROM ess_delivery d JOIN ess_event e ON e.id = d.event_id JOIN ess_subscriber s ON s.id = d.subscriber_id
WHERE d.id IN ({ids})
"""

THROTTLED_CHECK_SECONDS = 1.0
_throttled_seen = [0.0, True]  # [monotonic time of the last look, whether any was found]


def throttled_check_forget() -> None:
    """Look again at the next claim (tests that add a throttled subscriber mid-process)."""
    _throttled_seen[:] = [0.0, True]


def _throttled_subscribers_exist() -> bool:
    """Whether an active webhook subscriber has a throttle, looked up at most once a second.

    Only decides whether to run the throttled claim at all: a subscriber whose
    throttle was just set is never claimed unthrottled (that query checks the
    row itself); its deliveries wait at most this second.
    """
    clock = time.monotonic()
    if not _throttled_seen[0] or clock - _throttled_seen[0] >= THROTTLED_CHECK_SECONDS:
        _throttled_seen[:] = [
            clock,
            Subscriber.objects.filter(
                state=Subscriber.State.ACTIVE, kind=Subscriber.Kind.WEBHOOK, throttle__gt=0
            ).exists(),
        ]
    return _throttled_seen[1]


def delivery_claim(
    *, limit: int, lease_seconds: float | None = None, horizon: float = THROTTLE_HORIZON_SECONDS
) -> Claim:
    """Lease up to `limit` due deliveries to this worker and return them ready to send.

    Due rows are locked with SKIP LOCKED (so workers never wait on each
    other's batches), throttle slots are reserved, and the rows are stamped
    with the lease. On PostgreSQL deliveries of unthrottled subscribers take
    one statement; throttled ones one short transaction. On SQLite the
    IMMEDIATE transaction mode serialises writers, which gives the same
    guarantee.
    """
    lease = timedelta(seconds=settings.ESS_DELIVERY_LEASE_SECONDS if lease_seconds is None else lease_seconds)
    token = _random.randbits(62) + 1
    claimed: list[ClaimedDelivery] = []
    if connection.vendor == "postgresql":
        now, clock = database_now()
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM_UNTHROTTLED, {"now": now, "limit": limit, "lease_end": now + lease, "token": token})
            rows = sorted(cursor.fetchall())
        claimed = _claimed(rows, token, dict.fromkeys((row[0] for row in rows), clock))
        limit -= len(claimed)
        if limit <= 0 or not _throttled_subscribers_exist():
            return Claim(claimed)
    with transaction.atomic():
        now, _ = database_now()
        due = _due(now, now + timedelta(seconds=horizon)).values_list("id", "subscriber_id", "subscriber__throttle")
        due = list(due[:limit])
        if not due:
            return Claim(claimed)
        starts, throttled = _reserve_slots(due, horizon)
        ids = [delivery_id for delivery_id, _, _ in due if delivery_id in starts]
        if ids:
            lease_end = now + lease
            Delivery.objects.filter(id__in=ids).update(
                next_attempt_at=lease_end, lease_expires_at=lease_end, lease_token=token
            )
    if not ids:
        return Claim(claimed, throttled=throttled)
    # The rows are leased to us now: read what to send outside the transaction.
    with connection.cursor() as cursor:
        cursor.execute(_READ_CLAIMED.format(columns=_CLAIMED_COLUMNS, ids=", ".join(["%s"] * len(ids))), ids)
        rows = {row[0]: row for row in cursor.fetchall()}
    return Claim(claimed + _claimed([rows[i] for i in ids], token, starts), throttled=throttled)


def _json(value):
    return json.loads(value) if isinstance(value, str) else value  # SQLite returns JSON as text


def _claimed(rows: list[tuple], token: int, starts: dict[int, float]) -> list[ClaimedDelivery]:
    """ClaimedDelivery objects from rows of _CLAIMED_COLUMNS. Plain values: this runs for every delivery sent."""
    claimed = []
    for row in rows:
        (delivery_id, uid, channel, attempts, subscriber_id, cursor, topic, envelope) = row[:8]
        (url, test_url, max_retries, retry_base, redact_paths, secret, previous, previous_until) = row[8:]
        subscriber = Subscriber(
            pk=subscriber_id,
            secret_encrypted=secret,
            previous_secret_encrypted=previous,
            previous_secret_expires_at=_datetime(previous_until),
        )
        secrets, problem = _signing_secrets(subscriber)
        body = envelope_for_subscriber(envelope=envelope, paths=redaction_paths(_json(redact_paths)))
        claimed.append(
            ClaimedDelivery(
                id=delivery_id,
                uid=uid,
                lease_token=token,
                subscriber_id=subscriber_id,
                cursor=cursor,
                topic=topic,
                channel=channel,
                attempt=attempts + 1,
                url=test_url if channel == Channel.TEST else url,
                body=body.encode("utf-8"),
                secrets=secrets,
                max_retries=max_retries,
                retry_base_seconds=retry_base,
                start_at=starts[delivery_id],
                problem=problem,
            )
        )
    return claimed


def _datetime(value):
    """A timestamp column read with plain SQL: SQLite gives text, PostgreSQL a datetime."""
    if value is None or isinstance(value, datetime):
        return value
    return Subscriber._meta.get_field("previous_secret_expires_at").to_python(value)


def _signing_secrets(subscriber: Subscriber) -> tuple[tuple[str, ...], str]:
    try:
        secrets = tuple(subscriber_signing_secrets(subscriber))
    except ImproperlyConfigured as exc:
        return (), str(exc)
    if not secrets:
        return (), "the subscriber has no signing secret"
    return secrets, ""


def envelope_for_subscriber(*, envelope: str, paths: list[str]) -> str:
    """The stored envelope with `paths` deleted from its data (SPEC §5 PII), else unchanged.

    Re-serialized compactly with keys in their original order; an envelope
    from which nothing was removed is returned byte for byte as stored.
    """
    if not paths:
        return envelope
    body = json.loads(envelope)
    data, removed = redact(body.get("data") or {}, paths)
    if not removed:
        return envelope
    body["data"] = data
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def deliveries_next_due_in(*, horizon: float = THROTTLE_HORIZON_SECONDS) -> float | None:
    """Seconds until a delivery not due now becomes claimable (a retry, or a throttle slot); None if none."""
    now, _ = database_now()
    next_due = Delivery.objects.filter(
        status=Delivery.Status.PENDING,
        next_attempt_at__gt=now,
        subscriber__state=Subscriber.State.ACTIVE,
        subscriber__kind=Subscriber.Kind.WEBHOOK,
    ).aggregate(at=Min("next_attempt_at"))["at"]
    reach = timedelta(seconds=horizon)
    next_slot = Subscriber.objects.filter(
        state=Subscriber.State.ACTIVE,
        kind=Subscriber.Kind.WEBHOOK,
        throttle__gt=0,
        throttle_next_at__gte=now + reach,
    ).aggregate(at=Min("throttle_next_at"))["at"]
    times = [t for t in (next_due, next_slot - reach if next_slot else None) if t is not None]
    return max(0.0, (min(times) - now).total_seconds()) if times else None


def deliveries_pending() -> bool:
    """Whether any delivery of an active webhook subscriber is still waiting to be sent."""
    return Delivery.objects.filter(
        status=Delivery.Status.PENDING,
        subscriber__state=Subscriber.State.ACTIVE,
        subscriber__kind=Subscriber.Kind.WEBHOOK,
    ).exists()
