"""Recording what happened to sent deliveries: acks, back-off and retries, dead letters.

Outcomes are written only where the lease token still matches, so a worker
whose lease ran out never overwrites the worker that claimed the row again.
Must never send anything nor decide anything the subscriber's settings and
SPEC §5 do not say.
"""

import email.utils
import logging
import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BigIntegerField, F, Value
from django.db.models.functions import Coalesce, Greatest

from hub.models import Attempt, Delivery, Subscriber
from hub.services.deliveries.claims import ClaimedDelivery
from hub.services.deliveries.clock import database_now

log = logging.getLogger("hub.deliveries")

# Each back-off is stretched by a random factor in [1, 1.25]: spread out, never shortened,
# so the defaults still ride out a 15-minute outage (30+60+120+240+480 s).
RETRY_JITTER = 0.25
SKIPPED_REASON = "test event and no test_url"


class Verdict(StrEnum):
    ACKED = "acked"  # 2xx within the timeout
    FAILED = "failed"  # any other answer or no answer: retried with back-off
    REFUSED = "refused"  # the target is refused (address, URL): dead at once, retrying cannot help
    SKIPPED = "skipped"  # a test event for a subscriber without test_url


@dataclass(frozen=True)
class DeliveryOutcome:
    delivery: ClaimedDelivery
    verdict: Verdict
    started: float  # time.monotonic() when the request started
    duration: float = 0.0  # seconds
    status_code: int | None = None
    excerpt: str = ""
    error: str = ""
    retry_after: str | None = None  # the receiver's Retry-After header


def retry_delay(
    *, attempt: int, base: float, cap: float, retry_after: float | None = None, rng: random.Random | None = None
) -> float:
    """Seconds to wait after failed try number `attempt` (1-based): base * 2**(attempt-1),
    jittered, at least the receiver's Retry-After, and never more than `cap`.
    """
    jitter = (rng or random).uniform(1.0, 1.0 + RETRY_JITTER)
    delay = base * 2.0 ** min(attempt - 1, 64) * jitter
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(cap, delay)


def retry_after_seconds(value: str | None, *, now: datetime) -> float | None:
    """A Retry-After header (delay-seconds or an HTTP date) as seconds from `now`; None if absent or bad."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _failure_reason(outcome: DeliveryOutcome) -> str:
    if outcome.error:
        return outcome.error
    if outcome.status_code is not None and 300 <= outcome.status_code < 400:
        return f"answered HTTP {outcome.status_code}; redirects are not followed"
    return f"answered HTTP {outcome.status_code}"


def _settled(outcome: DeliveryOutcome, *, now: datetime, started_at: datetime) -> tuple[Delivery, Attempt | None]:
    """The delivery row (and its attempt) after `outcome`."""
    claimed = outcome.delivery
    # Lease fields, delivered_at and last_error start cleared (their model defaults).
    row = Delivery(pk=claimed.id, attempts=claimed.attempt, next_attempt_at=now, last_status_code=outcome.status_code)
    if outcome.verdict == Verdict.SKIPPED:
        row.status, row.attempts, row.last_error = Delivery.Status.SKIPPED, claimed.attempt - 1, SKIPPED_REASON
        return row, None
    attempt = Attempt(
        delivery_id=claimed.id,
        subscriber_id=claimed.subscriber_id,
        number=claimed.attempt,
        started_at=started_at,
        duration_ms=round(outcome.duration * 1000, 3),
        outcome=Attempt.Outcome.SUCCESS if outcome.verdict == Verdict.ACKED else Attempt.Outcome.FAILURE,
        status_code=outcome.status_code,
        response_excerpt=outcome.excerpt,
        error="" if outcome.verdict == Verdict.ACKED else _failure_reason(outcome),
    )
    if outcome.verdict == Verdict.ACKED:
        row.status = Delivery.Status.DELIVERED
        row.delivered_at = started_at + timedelta(seconds=outcome.duration)
        return row, attempt
    row.last_error = attempt.error
    retries_done = claimed.attempt - 1
    if outcome.verdict == Verdict.REFUSED or retries_done >= claimed.max_retries:
        row.status = Delivery.Status.DEAD
        return row, attempt
    delay = retry_delay(
        attempt=claimed.attempt,
        base=claimed.retry_base_seconds,
        cap=settings.ESS_RETRY_CAP_SECONDS,
        retry_after=retry_after_seconds(outcome.retry_after, now=now),
    )
    row.next_attempt_at = now + timedelta(seconds=delay)
    return row, attempt


# Columns of one settled delivery, in the order of _write_settled's VALUES rows.
_SETTLED_COLUMNS = {
    "id": "bigint",
    "lease_token": "bigint",
    "status": "varchar",
    "attempts": "integer",
    "next_attempt_at": "timestamptz",
    "delivered_at": "timestamptz",
    "last_status_code": "integer",
    "last_error": "text",
}


def _write_settled(rows: list[Delivery], tokens: dict[int, int]) -> set[int]:
    """Write `rows` in one UPDATE, each only if its lease token still matches; returns the ids written.

    Raw SQL because bulk_update cannot add the per-row token condition, and
    builds its CASE expressions far slower than the sends it records.
    """
    if connection.vendor == "postgresql":
        row_sql = "(" + ", ".join(f"CAST(%s AS {kind})" for kind in _SETTLED_COLUMNS.values()) + ")"
    else:
        row_sql = "(" + ", ".join(["%s"] * len(_SETTLED_COLUMNS)) + ")"
    as_db = connection.ops.adapt_datetimefield_value
    params: list = []
    for row in rows:
        params += [row.pk, tokens[row.pk], row.status, row.attempts, as_db(row.next_attempt_at)]
        params += [as_db(row.delivered_at), row.last_status_code, row.last_error]
    assignments = ", ".join(f"{column} = settled.{column}" for column in list(_SETTLED_COLUMNS)[2:])
    sql = (
        f"WITH settled ({', '.join(_SETTLED_COLUMNS)}) AS (VALUES {', '.join([row_sql] * len(rows))}) "
        f"UPDATE ess_delivery SET {assignments}, lease_expires_at = NULL, lease_token = NULL FROM settled "
        "WHERE ess_delivery.id = settled.id AND ess_delivery.lease_token = settled.lease_token "
        "RETURNING ess_delivery.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {written for (written,) in cursor.fetchall()}


def _subscriber_progress(outcomes: list[DeliveryOutcome], finished: dict[int, datetime]) -> list[Subscriber]:
    """One Subscriber per subscriber touched, with its progress fields as values or expressions.

    Fields a batch does not change are written back as themselves (F), so one
    bulk_update covers every subscriber; the acked cursor only ever grows.
    """
    acks: dict[str, tuple[datetime, int]] = {}
    errors: dict[str, tuple[datetime, str]] = {}
    for outcome in outcomes:
        claimed, at = outcome.delivery, finished[outcome.delivery.id]
        if outcome.verdict == Verdict.ACKED:
            last_at, cursor = acks.get(claimed.subscriber_id, (at, claimed.cursor))
            acks[claimed.subscriber_id] = (max(last_at, at), max(cursor, claimed.cursor))
        elif outcome.verdict in (Verdict.FAILED, Verdict.REFUSED):
            if claimed.subscriber_id not in errors or errors[claimed.subscriber_id][0] <= at:
                errors[claimed.subscriber_id] = (at, _failure_reason(outcome))
    progress = []
    for subscriber_id in sorted(acks.keys() | errors.keys()):
        entry = Subscriber(
            pk=subscriber_id,
            last_ack_at=F("last_ack_at"),
            last_ack_cursor=F("last_ack_cursor"),
            last_error=F("last_error"),
            last_error_at=F("last_error_at"),
        )
        if subscriber_id in acks:
            entry.last_ack_at, cursor = acks[subscriber_id]
            entry.last_ack_cursor = Greatest(
                Coalesce(F("last_ack_cursor"), Value(0)), Value(cursor), output_field=BigIntegerField()
            )
        if subscriber_id in errors:
            entry.last_error_at, entry.last_error = errors[subscriber_id]
        progress.append(entry)
    return progress


@transaction.atomic
def deliveries_record(*, outcomes: list[DeliveryOutcome]) -> Counter:
    """Write the outcomes of a batch of sends in a few statements; returns the new statuses counted.

    An outcome whose delivery is no longer leased under its token (the lease
    ran out and another worker claimed it again) is dropped: that worker records it.
    """
    if not outcomes:
        return Counter()
    now, clock = database_now()
    rows: dict[int, Delivery] = {}
    attempts: dict[int, Attempt] = {}
    finished: dict[int, datetime] = {}
    for outcome in outcomes:
        # The sender's monotonic clock, placed on database time.
        started_at = now - timedelta(seconds=max(0.0, clock - outcome.started))
        finished[outcome.delivery.id] = started_at + timedelta(seconds=outcome.duration)
        rows[outcome.delivery.id], attempt = _settled(outcome, now=now, started_at=started_at)
        if attempt is not None:
            attempts[outcome.delivery.id] = attempt
    written = _write_settled(list(rows.values()), {o.delivery.id: o.delivery.lease_token for o in outcomes})
    if len(written) < len(outcomes):
        log.info("dropped %d outcomes whose lease had been claimed again", len(outcomes) - len(written))
    mine = [outcome for outcome in outcomes if outcome.delivery.id in written]
    Attempt.objects.bulk_create([attempts[o.delivery.id] for o in mine if o.delivery.id in attempts])
    progress = _subscriber_progress(mine, finished)
    if len(progress) > 1:
        # Lock in id order first, as claims do: concurrent writers never wait on each other in a cycle.
        locked = Subscriber.objects.select_for_update().filter(pk__in=[entry.pk for entry in progress])
        list(locked.order_by("pk").values_list("pk", flat=True))
    if progress:
        Subscriber.objects.bulk_update(progress, ["last_ack_at", "last_ack_cursor", "last_error", "last_error_at"])
    for outcome in mine:
        claimed, row = outcome.delivery, rows[outcome.delivery.id]
        if row.status == Delivery.Status.DEAD:
            log.warning(
                "delivery %s to %s is dead after %d tries: %s",
                claimed.uid,
                claimed.subscriber_id,
                row.attempts,
                row.last_error,
            )
    return Counter(rows[outcome.delivery.id].status for outcome in mine)
