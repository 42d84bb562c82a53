"""GET /ess/status: the full shape, each figure, the failing state, and who may look."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import hub
from hub.models import Attempt, Delivery, FileError, Subscriber

URL = "/ess/status"


def _subscriber(sid: str, **fields) -> Subscriber:
    return Subscriber.objects.create(id=sid, url=f"https://127.0.0.1/{sid}", topics=["drug.#"], **fields)


def _attempt(delivery: Delivery, outcome: str, started_at: datetime, number: int = 1) -> Attempt:
    return Attempt.objects.create(
        delivery=delivery,
        subscriber_id=delivery.subscriber_id,
        number=number,
        started_at=started_at,
        duration_ms=5.0,
        outcome=outcome,
        status_code=200 if outcome == "success" else 500,
    )


def _row(answer: dict, sid: str) -> dict:
    return next(row for row in answer["subscribers"] if row["id"] == sid)


def test_status_has_the_full_shape(api):
    _subscriber("a")
    FileError.objects.create(file="subscribers/b.yml", line=3, error="unknown field 'colour'")
    FileError.objects.create(file="subscribers/c.yml", line=None, error="not a mapping")
    answer = api.get(URL).json()
    assert set(answer) == {"latest_cursor", "subscribers", "file_errors"}
    assert set(answer["subscribers"][0]) == {
        "id",
        "kind",
        "state",
        "last_ack_at",
        "last_ack_cursor",
        "lag",
        "pending",
        "dead",
        "delivered_1h",
        "failed_1h",
        "last_error",
    }
    assert answer["file_errors"] == [
        {"file": "subscribers/b.yml", "line": 3, "error": "unknown field 'colour'"},
        {"file": "subscribers/c.yml", "line": None, "error": "not a mapping"},
    ]


def test_a_new_subscriber_with_nothing_owed_is_active_with_zero_lag(api):
    for n in range(3):
        hub.publish("other.topic", {"n": n})
    _subscriber("a")
    answer = api.get(URL).json()
    assert answer["latest_cursor"] == 3
    assert _row(answer, "a") == {
        "id": "a",
        "kind": "webhook",
        "state": "active",
        "last_ack_at": None,
        "last_ack_cursor": None,
        "lag": 0,
        "pending": 0,
        "dead": 0,
        "delivered_1h": 0,
        "failed_1h": 0,
        "last_error": None,
    }


def test_pending_and_dead_are_counted_per_subscriber(api):
    _subscriber("a")
    _subscriber("b")
    for n in range(5):
        hub.publish("drug.copay", {"n": n})
    Delivery.objects.filter(subscriber_id="a", event_id__in=[1, 2]).update(status=Delivery.Status.DEAD)
    Delivery.objects.filter(subscriber_id="b").update(status=Delivery.Status.DELIVERED)
    answer = api.get(URL).json()
    assert (_row(answer, "a")["pending"], _row(answer, "a")["dead"]) == (3, 2)
    assert (_row(answer, "b")["pending"], _row(answer, "b")["dead"]) == (0, 0)


def test_lag_is_latest_cursor_minus_last_acked_cursor(api):
    for n in range(10):
        hub.publish("drug.copay", {"n": n})
    ack_at = datetime(2024, 5, 7, 14, 3, 11, 250000, tzinfo=UTC)
    _subscriber("a", last_ack_cursor=7, last_ack_at=ack_at)
    row = _row(api.get(URL).json(), "a")
    assert row["lag"] == 3
    assert row["last_ack_cursor"] == 7
    assert row["last_ack_at"] == "2024-05-07T14:03:11Z"


def test_lag_of_a_subscriber_that_never_acked_counts_from_its_oldest_owed_event(api):
    for n in range(4):
        hub.publish("other.topic", {"n": n})
    _subscriber("a")
    for n in range(3):
        hub.publish("drug.copay", {"n": n})  # cursors 5, 6, 7: all owed to "a"
    row = _row(api.get(URL).json(), "a")
    assert (row["pending"], row["lag"]) == (3, 3)


def test_delivered_and_failed_in_the_last_hour_come_from_attempts(api):
    _subscriber("a")
    for n in range(3):
        hub.publish("drug.copay", {"n": n})
    first, second, third = Delivery.objects.filter(subscriber_id="a").order_by("event_id")
    now = timezone.now()
    _attempt(first, "failure", now - timedelta(minutes=10), number=1)
    _attempt(first, "success", now - timedelta(minutes=9), number=2)
    _attempt(second, "success", now - timedelta(minutes=5))
    _attempt(third, "failure", now - timedelta(minutes=1))
    _attempt(third, "failure", now - timedelta(hours=2), number=0)  # too old to count
    row = _row(api.get(URL).json(), "a")
    assert (row["delivered_1h"], row["failed_1h"]) == (2, 2)


def test_an_active_subscriber_whose_latest_try_failed_is_failing(api):
    now = timezone.now()
    _subscriber("a", last_ack_at=now - timedelta(minutes=5), last_error_at=now, last_error="HTTP 500")
    _subscriber("b", last_ack_at=now, last_error_at=now - timedelta(minutes=5), last_error="HTTP 500")
    _subscriber("c", last_error_at=now, last_error="connection refused")
    answer = api.get(URL).json()
    assert _row(answer, "a")["state"] == "failing"
    assert _row(answer, "a")["last_error"] == "HTTP 500"
    assert _row(answer, "b")["state"] == "active"
    assert _row(answer, "c")["state"] == "failing"


def test_an_active_subscriber_with_dead_deliveries_is_failing(api):
    _subscriber("a", last_ack_at=timezone.now())
    hub.publish("drug.copay", {})
    Delivery.objects.update(status=Delivery.Status.DEAD)
    assert _row(api.get(URL).json(), "a")["state"] == "failing"


@pytest.mark.parametrize("state", ["paused", "disabled"])
def test_paused_and_disabled_keep_their_state_even_when_failing(api, state):
    _subscriber("a", state=state, last_error_at=timezone.now(), last_error="HTTP 500")
    hub.publish("drug.copay", {})
    Delivery.objects.update(status=Delivery.Status.DEAD)
    assert _row(api.get(URL).json(), "a")["state"] == state


def test_query_count_does_not_grow_with_subscribers(api):
    _subscriber("s0", last_ack_cursor=1)
    _subscriber("t0")
    hub.publish("drug.copay", {})
    api.get(URL)  # the API key is looked up once, then cached: count only the status queries
    with CaptureQueriesContext(connection) as few:
        api.get(URL)
    for n in range(1, 8):
        _subscriber(f"s{n}", last_ack_cursor=1)
        _subscriber(f"t{n}")
    hub.publish("drug.copay", {})
    with CaptureQueriesContext(connection) as many:
        api.get(URL)
    assert len(many) == len(few)


def test_status_needs_a_key(anon, db):
    assert anon.get(URL).status_code == 401


def test_status_needs_the_read_scope(make_key, bearer):
    assert bearer(make_key(scopes=["publish", "register"])).get(URL).status_code == 403


def test_a_subscriber_key_sees_only_its_own_subscriber_and_no_file_errors(make_key, bearer):
    subscriber = _subscriber("a")
    _subscriber("b")
    FileError.objects.create(file="b.yml", line=3, error="unknown field")
    response = bearer(make_key(scopes=["read"], subscriber=subscriber)).get(URL)
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["subscribers"]] == ["a"]
    assert response.json()["file_errors"] == []


def test_a_staff_session_may_look(admin_client):
    _subscriber("a")
    response = admin_client.get(URL)
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["subscribers"]] == ["a"]


def test_a_logged_in_non_staff_user_may_not_look(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("clerk", password="x" * 12))
    assert client.get(URL).status_code == 403
