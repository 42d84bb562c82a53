"""The cursor rule on PostgreSQL (SPEC §3): once a reader has seen cursor N, no
event with a cursor <= N appears later, so a follower of
GET /ess/events?since_cursor= never skips an event.

Each test runs one scenario: a publisher opens a transaction, takes its cursor
and holds the transaction open just before commit; other publishers (threads,
each its own database connection) publish meanwhile; a reader follows the
events feed in a loop; then the held publisher commits.

- With the hub's publishing (hub.services.events), the counter row's lock
  taken with the cursor is held until commit, so the others wait for it:
  cursors become visible in cursor order, and the reader sees every event.
- With a plain PostgreSQL SEQUENCE (written here in raw SQL), nextval() hands
  out numbers at once and never waits for commits: the held publisher has
  cursor 1 while the others commit 2, 3, ...; the reader moves past them, and
  when 1 finally commits it lies behind the reader's cursor: skipped for good.
  The second test asserts that skip, which shows the scenario can catch it.
"""

import threading
import time

import pytest
from django.db import connection, transaction

import hub
from hub.models import Event

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/ess/events"
OTHER_PUBLISHERS = 4
EVENTS_EACH = 3
HOLD_SECONDS = 1.0


class Follower:
    """Follows the events feed as a batch consumer does: from the last cursor it saw."""

    def __init__(self, client):
        self.client = client
        self.cursor = 0
        self.seen: list[int] = []
        self.went_back: list[tuple[int, int]] = []

    def follow(self) -> None:
        while True:
            page = self.client.get(URL, {"since_cursor": self.cursor, "limit": 1000}).json()
            for event in page["events"]:
                if self.seen and event["cursor"] <= max(self.seen):
                    self.went_back.append((max(self.seen), event["cursor"]))
                self.seen.append(event["cursor"])
            self.cursor = page["next_cursor"]
            if not page["has_more"]:
                return


def _in_thread(target, *args) -> threading.Thread:
    def run():
        try:
            target(*args)
        finally:
            connection.close()  # each thread had its own connection

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _scenario(*, publish, publish_held, follower: Follower) -> None:
    taken, release = threading.Event(), threading.Event()
    held = _in_thread(publish_held, taken, release)
    assert taken.wait(10), "the held publisher did not get its cursor"
    others = [_in_thread(lambda: [publish() for _ in range(EVENTS_EACH)]) for _ in range(OTHER_PUBLISHERS)]
    deadline = time.monotonic() + HOLD_SECONDS
    while time.monotonic() < deadline:
        follower.follow()
        time.sleep(0.02)
    release.set()
    for thread in [held, *others]:
        thread.join(20)
        assert not thread.is_alive()
    follower.follow()


def test_a_follower_never_goes_back_and_sees_every_event(api):
    def publish():
        hub.publish("cursor.rule", {"held": False})

    def publish_held(taken, release):
        with transaction.atomic():
            hub.publish("cursor.rule", {"held": True})
            taken.set()
            release.wait(10)

    follower = Follower(api)
    _scenario(publish=publish, publish_held=publish_held, follower=follower)

    stored = sorted(Event.objects.values_list("id", flat=True))
    assert len(stored) == 1 + OTHER_PUBLISHERS * EVENTS_EACH
    assert follower.went_back == []
    assert follower.seen == stored


@pytest.fixture
def sequence_table():
    """A plain sequence for cursors, as a naive publisher would use; dropped afterwards."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE SEQUENCE cursor_rule_naive_seq")
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP SEQUENCE IF EXISTS cursor_rule_naive_seq")


_NAIVE_INSERT = """
    INSERT INTO ess_event (id, uid, topic, channel, ts, envelope, idempotency_scope)
    SELECT n, 'evt_naive_' || n, 'cursor.rule', 'live', now(), '{"cursor":' || n || '}', ''
    FROM (SELECT nextval('cursor_rule_naive_seq') AS n) AS taken
    RETURNING id
"""


def test_a_plain_sequence_makes_the_follower_skip_the_held_event(api, sequence_table):
    held_cursor = []

    def publish():
        with connection.cursor() as cursor:
            cursor.execute(_NAIVE_INSERT)

    def publish_held(taken, release):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_NAIVE_INSERT)
            held_cursor.append(cursor.fetchone()[0])
            taken.set()
            release.wait(10)

    follower = Follower(api)
    _scenario(publish=publish, publish_held=publish_held, follower=follower)

    stored = set(Event.objects.values_list("id", flat=True))
    assert len(stored) == 1 + OTHER_PUBLISHERS * EVENTS_EACH
    assert held_cursor == [1]
    assert set(follower.seen) == stored - {1}, "the event committed late lies behind the follower: skipped"
