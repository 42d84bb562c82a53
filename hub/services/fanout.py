"""Which subscribers an event goes to. Read at every publish, never cached,
so a subscriber registered a moment ago receives the next event.

One plain SQL query: this runs on every publish, and the ORM's overhead was
half the cost of a single-event publish.
"""

import json
from dataclasses import dataclass

from django.db import connection

from hub.models import Subscriber
from hub.topics import matches_any


@dataclass(frozen=True, slots=True)
class Candidate:
    """What fan-out needs to know of a subscriber."""

    pk: str
    kind: str
    topics: tuple[str, ...]
    has_test_target: bool


def _json(value):
    return json.loads(value) if isinstance(value, str) else value  # SQLite returns JSON as text


def fanout_candidates() -> list[Candidate]:
    """Subscribers that receive new events: active and paused (paused ones queue)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, kind, topics, test_url, test_target FROM ess_subscriber WHERE state <> %s",
            [Subscriber.State.DISABLED],
        )
        rows = cursor.fetchall()
    return [
        Candidate(
            pk=pk,
            kind=kind,
            topics=tuple(_json(topics) or ()),
            has_test_target=bool(test_url if kind == Subscriber.Kind.WEBHOOK else _json(test_target)),
        )
        for pk, kind, topics, test_url, test_target in rows
    ]


def subscriber_accepts(subscriber: Candidate, topic: str, data_json: str) -> bool:
    """Whether `subscriber` takes an event of `topic` (data given as its JSON text).

    Connector subscribers will also apply their connector's own topics and
    filter here (connectors issue); for now their `topics` decide.
    """
    return matches_any(subscriber.topics, topic)
