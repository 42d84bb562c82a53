"""Reads that are more than a filter: the events feed and the sync status of every subscriber.

Must never write, and must answer in a fixed number of queries whatever the
number of subscribers (the status page is polled by dashboards).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from hub.models import Attempt, Channel, Delivery, Event, FileError, Subscriber

MAX_PAGE = 1000


@dataclass
class EventPage:
    envelopes: list[str]
    next_cursor: int
    has_more: bool


@dataclass
class SubscriberStatus:
    id: str
    kind: str
    state: str
    last_ack_at: datetime | None
    last_ack_cursor: int | None
    lag: int
    pending: int
    dead: int
    delivered_1h: int
    failed_1h: int
    last_error: str | None


@dataclass
class HubStatus:
    latest_cursor: int
    subscribers: list[SubscriberStatus]
    file_errors: list[FileError]


def event_list(
    *, since_cursor: int = 0, changed_since: datetime | None = None, channel: str = Channel.LIVE, limit: int = 100
) -> EventPage:
    """Events with cursor > since_cursor (and ts >= changed_since), in cursor order.

    Envelopes are the stored texts, untouched. Cursors are visible in commit
    order (hub.services.events), so following next_cursor never skips one.
    """
    limit = min(limit, MAX_PAGE)
    events = Event.objects.filter(id__gt=since_cursor, channel=channel)
    if changed_since is not None:
        events = events.filter(ts__gte=changed_since)
    rows = list(events.order_by("id").values_list("id", "envelope")[: limit + 1])
    page = rows[:limit]
    return EventPage(
        envelopes=[envelope for _, envelope in page],
        next_cursor=page[-1][0] if page else since_cursor,
        has_more=len(rows) > limit,
    )


def latest_cursor() -> int:
    return Event.objects.aggregate(latest=Max("id"))["latest"] or 0


def _is_failing(subscriber: Subscriber, dead: int) -> bool:
    if subscriber.state != Subscriber.State.ACTIVE:
        return False
    if dead:
        return True
    error_at, ack_at = subscriber.last_error_at, subscriber.last_ack_at
    return error_at is not None and (ack_at is None or error_at > ack_at)


def subscriber_status_list(
    *, latest: int | None = None, now: datetime | None = None, only: str | None = None
) -> list[SubscriberStatus]:
    """Each subscriber's sync status (SPEC §4 /ess/status), in id order, in at most five queries.

    `lag` is the latest cursor minus the last acked cursor. A subscriber that
    never acked counts from just before the oldest event it still owes
    (pending or dead), so a new subscriber of an old hub does not show the
    whole history as lag; owing nothing, its lag is 0.
    """
    now = now or timezone.now()
    latest = latest_cursor() if latest is None else latest
    chosen = Subscriber.objects.filter(pk=only) if only is not None else Subscriber.objects.all()
    subscribers = list(
        chosen.order_by("id").only(
            "id", "kind", "state", "last_ack_at", "last_ack_cursor", "last_error", "last_error_at"
        )
    )
    if not subscribers:
        return []
    ids = [s.pk for s in subscribers]

    owed: dict[tuple[str, str], int] = {}
    # Count(*) lets PostgreSQL answer from the partial indexes on pending and dead rows.
    for row in (
        Delivery.objects.filter(status__in=[Delivery.Status.PENDING, Delivery.Status.DEAD])
        .values("subscriber_id", "status")
        .annotate(n=Count("*"))
        .order_by()
    ):
        owed[(row["subscriber_id"], row["status"])] = row["n"]

    never_acked = [s.pk for s in subscribers if s.last_ack_cursor is None]
    oldest_owed: dict[str, int] = {}
    if never_acked:
        oldest_owed = dict(
            Delivery.objects.filter(
                subscriber_id__in=never_acked, status__in=[Delivery.Status.PENDING, Delivery.Status.DEAD]
            )
            .values("subscriber_id")
            .annotate(first=Min("event_id"))
            .order_by()
            .values_list("subscriber_id", "first")
        )

    recent: dict[str, dict] = {
        row["subscriber_id"]: row
        for row in Attempt.objects.filter(subscriber_id__in=ids, started_at__gte=now - timedelta(hours=1))
        .values("subscriber_id")
        .annotate(
            succeeded=Count("id", filter=Q(outcome=Attempt.Outcome.SUCCESS)),
            failed=Count("id", filter=Q(outcome=Attempt.Outcome.FAILURE)),
        )
        .order_by()
    }

    statuses = []
    for subscriber in subscribers:
        dead = owed.get((subscriber.pk, Delivery.Status.DEAD), 0)
        if subscriber.last_ack_cursor is not None:
            lag = latest - subscriber.last_ack_cursor
        elif subscriber.pk in oldest_owed:
            lag = latest - oldest_owed[subscriber.pk] + 1
        else:
            lag = 0
        attempts = recent.get(subscriber.pk, {})
        statuses.append(
            SubscriberStatus(
                id=subscriber.pk,
                kind=subscriber.kind,
                state="failing" if _is_failing(subscriber, dead) else subscriber.state,
                last_ack_at=subscriber.last_ack_at,
                last_ack_cursor=subscriber.last_ack_cursor,
                lag=max(lag, 0),
                pending=owed.get((subscriber.pk, Delivery.Status.PENDING), 0),
                dead=dead,
                delivered_1h=attempts.get("succeeded", 0),
                failed_1h=attempts.get("failed", 0),
                last_error=subscriber.last_error or None,
            )
        )
    return statuses


def hub_status(*, now: datetime | None = None, subscriber_id: str | None = None) -> HubStatus:
    """The /ess/status answer: latest cursor, every subscriber, every broken subscriber file.

    With `subscriber_id` (a subscriber's own key) only that subscriber's row,
    and no file errors: they may name other subscribers' files.
    """
    latest = latest_cursor()
    return HubStatus(
        latest_cursor=latest,
        subscribers=subscriber_status_list(latest=latest, now=now, only=subscriber_id),
        file_errors=list(FileError.objects.order_by("file")) if subscriber_id is None else [],
    )
