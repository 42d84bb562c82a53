"""Publishing: validate, then store events and their deliveries in one transaction.

The cursor rule (SPEC §3): once a reader has seen cursor N, no event with a
cursor <= N may appear later. A plain sequence breaks it: numbers are taken
before commit and transactions commit out of order, so a reader can see 8
before 7 commits. Here cursors come from one counter row bumped with an
upsert (`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`); its row lock is
held until the publishing transaction commits, so cursors are assigned in
commit order and become visible in that order. The lock is taken as late as
possible (after validation and fan-out), so it covers only the inserts and
the commit. On PostgreSQL a publish without idempotency keys is a single
statement (counter, events, deliveries, NOTIFY), under the same lock.

Must never: store part of a batch, store an event without its deliveries, or
send anything (dispatchers send; they are woken by NOTIFY on commit).
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection, transaction

from hub import ids
from hub.exceptions import InvalidInput, PayloadTooLarge
from hub.jsoncheck import check_json_value
from hub.models import ApiKey, Channel, Delivery, Event
from hub.services.fanout import Candidate, fanout_candidates, subscriber_accepts
from hub.topics import topic_error

NOTIFY_CHANNEL = "ess_delivery"
_EVENT_FIELDS = {"topic", "data", "idempotency_key", "channel"}


@dataclass
class EventDraft:
    """A validated event, serialized once, waiting for its cursor."""

    topic: str
    data_json: str
    channel: str
    idempotency_key: str | None
    subscribers: list[Candidate] = field(default_factory=list)


@dataclass
class Published:
    event: Event
    created: bool


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def event_draft(item, *, channel_override: str | None = None) -> EventDraft:
    """Validate one event object from the API or `hub.publish`; raise InvalidInput/PayloadTooLarge."""
    if not isinstance(item, dict):
        raise InvalidInput("each event must be a JSON object")
    unknown = sorted(set(item) - _EVENT_FIELDS)
    if unknown:
        raise InvalidInput("unknown field(s)", {name: "unknown field" for name in unknown})
    errors: dict[str, str] = {}
    topic = item.get("topic")
    if (message := topic_error(topic)) is not None:
        errors["topic"] = message
    if "data" not in item:
        errors["data"] = "data is required"
    elif not isinstance(item["data"], dict):
        errors["data"] = "data must be a JSON object"
    channel = item.get("channel", Channel.LIVE) if channel_override is None else channel_override
    if channel not in Channel.values:
        errors["channel"] = "channel must be 'live' or 'test'"
    key = item.get("idempotency_key")
    if key is not None and (not isinstance(key, str) or not key or len(key) > 200):
        errors["idempotency_key"] = "idempotency_key must be a string of 1 to 200 characters"
    if errors:
        raise InvalidInput("invalid event", errors)
    check_json_value(item["data"])
    if key is not None:
        check_json_value(key, path="idempotency_key")
    try:
        data_json = _dumps(item["data"])
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"data is not JSON-serializable: {exc}", {"data": str(exc)}) from None
    size = len(data_json.encode("utf-8"))
    if size > settings.ESS_MAX_EVENT_BYTES:
        raise PayloadTooLarge(
            f"data is {size} bytes serialized; the limit is {settings.ESS_MAX_EVENT_BYTES}",
            {"data": f"larger than {settings.ESS_MAX_EVENT_BYTES} bytes"},
        )
    return EventDraft(topic=topic, data_json=data_json, channel=channel, idempotency_key=key)


def event_drafts(items, *, channel_override: str | None = None) -> list[EventDraft]:
    """Validate a batch: all or nothing, errors name the 0-based index."""
    if not isinstance(items, list):
        raise InvalidInput("events must be a list", {"events": "must be a list of event objects"})
    if not items:
        raise InvalidInput("empty batch", {"events": "a batch holds 1 to 1000 events"})
    if len(items) > settings.ESS_MAX_BATCH:
        raise InvalidInput(
            f"a batch holds at most {settings.ESS_MAX_BATCH} events", {"events": f"{len(items)} events given"}
        )
    drafts = []
    for index, item in enumerate(items):
        try:
            drafts.append(event_draft(item, channel_override=channel_override))
        except (InvalidInput, PayloadTooLarge) as exc:
            raise type(exc)(f"events[{index}]: {exc.message}", {"index": index, "errors": exc.detail}) from None
    return drafts


def envelope_parts(*, uid: str, topic: str, ts: str, channel: str, data_json: str) -> tuple[str, str]:
    """The webhook body of SPEC §5 (keys in the documented order) before and after its cursor."""
    return (
        f'{{"id":{_dumps(uid)},"topic":{_dumps(topic)},"cursor":',
        f',"ts":{_dumps(ts)},"channel":{_dumps(channel)},"data":{data_json}}}',
    )


def format_ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _take_cursors(count: int) -> int:
    """Reserve `count` cursors (0 just takes the lock); returns the last one.

    The counter row's lock is held until commit. An upsert, so that a flushed
    table (tests) restarts after the highest stored cursor instead of failing.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ess_cursor_counter (name, value) "
            "VALUES ('events', (SELECT COALESCE(MAX(id), 0) FROM ess_event) + %s) "
            "ON CONFLICT (name) DO UPDATE SET value = ess_cursor_counter.value + %s RETURNING value",
            [count, count],
        )
        return cursor.fetchone()[0]


_EVENT_COLUMNS = (
    "id",
    "uid",
    "topic",
    "channel",
    "ts",
    "envelope",
    "publisher_id",
    "idempotency_scope",
    "idempotency_key",
)
_DELIVERY_COLUMNS = (
    "uid",
    "event_id",
    "subscriber_id",
    "channel",
    "origin",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
    "last_error",
)


MAX_PARAMETERS = 30_000  # under SQLite's 32,766 and PostgreSQL's 65,535 per statement


def _values(model, attnames: tuple[str, ...], rows: list[tuple]) -> tuple[str, list]:
    """`INSERT INTO table (columns) VALUES (...), ...` and its parameters, prepared per field."""
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    fields = [by_attname[name] for name in attnames]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    params = [f.get_db_prep_save(value, connection) for row in rows for f, value in zip(fields, row, strict=True)]
    return f"INSERT INTO {model._meta.db_table} ({columns}) VALUES {', '.join([placeholders] * len(rows))}", params


def _insert_rows(model, attnames: tuple[str, ...], rows: list[tuple]) -> None:
    """Multi-row INSERTs: on this hot path the ORM's bulk_create cost more than the database did."""
    per_statement = MAX_PARAMETERS // len(attnames)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            cursor.execute(*_values(model, attnames, rows[start : start + per_statement]))


def _store(event_rows: list[tuple], delivery_rows: list[tuple]) -> None:
    """Insert events and deliveries, and NOTIFY the dispatchers (delivered on commit).

    On PostgreSQL a publish that fits one statement is one round trip: both
    INSERTs as data-modifying CTEs and the NOTIFY as the main query (the
    foreign keys are deferred, so the order of the CTEs does not matter).
    """
    parameters = len(event_rows) * len(_EVENT_COLUMNS) + len(delivery_rows) * len(_DELIVERY_COLUMNS)
    if connection.vendor == "postgresql" and delivery_rows and parameters <= MAX_PARAMETERS:
        events_sql, events_params = _values(Event, _EVENT_COLUMNS, event_rows)
        deliveries_sql, deliveries_params = _values(Delivery, _DELIVERY_COLUMNS, delivery_rows)
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH e AS ({events_sql}), d AS ({deliveries_sql}) SELECT pg_notify(%s, '')",
                [*events_params, *deliveries_params, NOTIFY_CHANNEL],
            )
        return
    _insert_rows(Event, _EVENT_COLUMNS, event_rows)
    if delivery_rows:
        _insert_rows(Delivery, _DELIVERY_COLUMNS, delivery_rows)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_notify(%s, '')", [NOTIFY_CHANNEL])


def _existing_by_key(scope: str, keys: list[str]) -> dict[str, Event]:
    found = Event.objects.filter(idempotency_scope=scope, idempotency_key__in=keys)
    return {event.idempotency_key: event for event in found}


def idempotency_scope(publisher: ApiKey | None) -> str:
    return f"key:{publisher.pk}" if publisher is not None else "internal"


@dataclass
class _Planned:
    """A fresh event with everything but its cursor: ids, envelope around the cursor, deliveries."""

    draft: EventDraft
    uid: str
    envelope_head: str
    envelope_tail: str
    deliveries: list[tuple[str, str, str, str]]  # (uid, subscriber id, status, last_error)


def _plan(draft: EventDraft, *, ts: str) -> _Planned:
    uid = ids.event_uid()
    head, tail = envelope_parts(uid=uid, topic=draft.topic, ts=ts, channel=draft.channel, data_json=draft.data_json)
    deliveries = []
    for subscriber in draft.subscribers:
        skip = draft.channel == Channel.TEST and not subscriber.has_test_target
        deliveries.append(
            (
                ids.delivery_uid(),
                subscriber.pk,
                Delivery.Status.SKIPPED if skip else Delivery.Status.PENDING,
                "test event and no test target" if skip else "",
            )
        )
    return _Planned(draft, uid, head, tail, deliveries)


def _event(planned: _Planned, *, cursor: int, now: datetime, publisher_id: int | None, scope: str) -> Event:
    return Event(
        id=cursor,
        uid=planned.uid,
        topic=planned.draft.topic,
        channel=planned.draft.channel,
        ts=now,
        envelope=f"{planned.envelope_head}{cursor}{planned.envelope_tail}",
        publisher_id=publisher_id,
        idempotency_scope=scope,
        idempotency_key=planned.draft.idempotency_key,
    )


def events_store(*, drafts: list[EventDraft], publisher: ApiKey | None = None) -> list[Published]:
    """Store validated drafts and their deliveries; returns them in order.

    A draft whose idempotency key was already used under the same publisher
    returns the first event (created=False) and stores nothing.
    """
    candidates = fanout_candidates()
    for draft in drafts:
        draft.subscribers = [s for s in candidates if subscriber_accepts(s, draft.topic, draft.data_json)]
    scope = idempotency_scope(publisher)
    publisher_id = publisher.pk if publisher is not None else None
    now = datetime.now(UTC).replace(microsecond=0)
    if connection.vendor == "postgresql" and all(d.idempotency_key is None for d in drafts):
        planned = [_plan(draft, ts=format_ts(now)) for draft in drafts]
        if _one_statement_parameters(planned) <= MAX_PARAMETERS:
            first = _store_in_one_statement(planned, now=now, publisher_id=publisher_id, scope=scope)
            return [
                Published(_event(p, cursor=first + n, now=now, publisher_id=publisher_id, scope=scope), created=True)
                for n, p in enumerate(planned)
            ]
    with transaction.atomic():
        return _store_locked(drafts, now=now, publisher_id=publisher_id, scope=scope)


def _store_locked(drafts: list[EventDraft], *, now: datetime, publisher_id: int | None, scope: str) -> list[Published]:
    """Idempotency checks, cursors and inserts in one transaction that holds the counter lock."""
    keys = [d.idempotency_key for d in drafts if d.idempotency_key is not None]
    existing: dict[str, Event] = {}
    if keys:
        _take_cursors(0)  # serialises idempotency checks with other publishers
        existing = _existing_by_key(scope, keys)
    results: list[Published | EventDraft] = []
    fresh: list[EventDraft] = []
    seen_in_batch: dict[str, EventDraft] = {}
    for draft in drafts:
        key = draft.idempotency_key
        if key is not None and key in existing:
            results.append(Published(existing[key], created=False))
        elif key is not None and key in seen_in_batch:
            results.append(seen_in_batch[key])
        else:
            if key is not None:
                seen_in_batch[key] = draft
            fresh.append(draft)
            results.append(draft)
    if not fresh:
        return results  # type: ignore[return-value]

    first = _take_cursors(len(fresh)) - len(fresh) + 1
    by_draft: dict[int, Event] = {}
    delivery_rows: list[tuple] = []
    for offset, draft in enumerate(fresh):
        planned = _plan(draft, ts=format_ts(now))
        event = _event(planned, cursor=first + offset, now=now, publisher_id=publisher_id, scope=scope)
        by_draft[id(draft)] = event
        delivery_rows += [
            (uid, event.id, sub, draft.channel, Delivery.Origin.PUBLISH, status, 0, now, now, error)
            for uid, sub, status, error in planned.deliveries
        ]
    _store([tuple(getattr(e, name) for name in _EVENT_COLUMNS) for e in by_draft.values()], delivery_rows)
    return [Published(by_draft[id(item)], created=True) if isinstance(item, EventDraft) else item for item in results]


def _one_statement_parameters(planned: list[_Planned]) -> int:
    return 7 * len(planned) + 6 * sum(len(p.deliveries) for p in planned) + 8


def _store_in_one_statement(planned: list[_Planned], *, now: datetime, publisher_id: int | None, scope: str) -> int:
    """Cursors, events, deliveries and NOTIFY in one statement (PostgreSQL, no idempotency keys).

    Returns the first cursor.
    One statement in its own transaction (or the caller's): the counter row's
    lock is taken by its first CTE and held until commit, exactly as in
    `_store_locked`, so the cursor rule holds; a publish costs two round trips
    (the fan-out read and this) instead of five.
    """
    count = len(planned)
    # Parameters in the order their placeholders stand in the SQL text.
    params: list = [count, count, now, publisher_id, scope]
    events_values = []
    for n, p in enumerate(planned, start=1):
        events_values.append("(%s, %s, %s, %s, %s, %s, %s)")
        params += [n, p.uid, p.draft.topic, p.draft.channel, p.envelope_head, p.envelope_tail, None]
    sql = [
        "WITH c AS (",
        "  INSERT INTO ess_cursor_counter AS counter (name, value)",
        "  VALUES ('events', (SELECT COALESCE(MAX(id), 0) FROM ess_event) + %s)",
        "  ON CONFLICT (name) DO UPDATE SET value = counter.value + %s",
        f"  RETURNING value - {count} AS base",
        "), e AS (",
        "  INSERT INTO ess_event (id, uid, topic, channel, ts, envelope, publisher_id, idempotency_scope,",
        "    idempotency_key)",
        "  SELECT c.base + v.n::bigint, v.uid, v.topic, v.channel, %s, v.head || (c.base + v.n::bigint) || v.tail,",
        "    %s, %s, v.ikey",
        f"  FROM c, (VALUES {', '.join(events_values)}) AS v (n, uid, topic, channel, head, tail, ikey)",
        ")",
    ]
    deliveries_values = []
    delivery_params: list = []
    for n, p in enumerate(planned, start=1):
        for uid, subscriber_id, status, error in p.deliveries:
            deliveries_values.append("(%s, %s, %s, %s, %s, %s)")
            delivery_params += [n, uid, subscriber_id, p.draft.channel, status, error]
    if deliveries_values:
        sql += [
            ", d AS (",
            "  INSERT INTO ess_delivery (uid, event_id, subscriber_id, channel, origin, status, attempts,",
            "    next_attempt_at, created_at, last_error)",
            "  SELECT w.uid, c.base + w.n::bigint, w.subscriber, w.channel, 'publish', w.status, 0, %s, %s, w.error",
            f"  FROM c, (VALUES {', '.join(deliveries_values)}) AS w (n, uid, subscriber, channel, status, error)",
            ")",
            "SELECT c.base + 1, pg_notify(%s, '') FROM c",
        ]
        params += [now, now, *delivery_params, NOTIFY_CHANNEL]
    else:
        sql.append("SELECT c.base + 1 FROM c")
    with connection.cursor() as cursor:
        cursor.execute("\n".join(sql), params)
        return cursor.fetchone()[0]


def event_publish(
    *, topic: str, data, channel: str = "live", idempotency_key: str | None = None, publisher: ApiKey | None = None
) -> Event:
    """Validate and store one event (the path of `hub.publish` and single POST /ess/publish)."""
    item = {"topic": topic, "data": data, "channel": channel}
    if idempotency_key is not None:
        item["idempotency_key"] = idempotency_key
    return events_store(drafts=[event_draft(item)], publisher=publisher)[0].event
