"""GET /ess/events: paging by cursor, changed_since, channels, limits, and who may pull."""

import json
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

import hub
from hub.models import Event
from hub.services.events import event_draft, events_store

URL = "/ess/events"


def _publish(count: int, topic: str = "drug.copay", channel: str = "live") -> list[Event]:
    return [hub.publish(topic, {"n": n}, channel=channel) for n in range(count)]


def test_events_are_the_stored_envelopes_byte_for_byte(api):
    events = _publish(3)
    response = api.get(URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.content.decode()
    for event in events:
        assert event.envelope in body
    assert json.loads(body)["events"] == [json.loads(event.envelope) for event in events]


def test_paging_follows_next_cursor_until_has_more_is_false(api):
    events = _publish(5)
    first = api.get(URL, {"limit": 2}).json()
    assert [e["cursor"] for e in first["events"]] == [events[0].id, events[1].id]
    assert first["has_more"] is True and first["next_cursor"] == events[1].id

    second = api.get(URL, {"limit": 2, "since_cursor": first["next_cursor"]}).json()
    assert [e["cursor"] for e in second["events"]] == [events[2].id, events[3].id]
    third = api.get(URL, {"limit": 2, "since_cursor": second["next_cursor"]}).json()
    assert [e["cursor"] for e in third["events"]] == [events[4].id]
    assert third["has_more"] is False and third["next_cursor"] == events[4].id


def test_since_cursor_is_exclusive(api):
    events = _publish(3)
    answer = api.get(URL, {"since_cursor": events[1].id}).json()
    assert [e["cursor"] for e in answer["events"]] == [events[2].id]


def test_nothing_new_returns_the_given_cursor(api):
    _publish(2)
    answer = api.get(URL, {"since_cursor": 1000}).json()
    assert answer == {"events": [], "next_cursor": 1000, "has_more": False}


def test_nothing_at_all_returns_cursor_0(api):
    assert api.get(URL).json() == {"events": [], "next_cursor": 0, "has_more": False}


def test_a_full_last_page_has_no_more(api):
    _publish(2)
    assert api.get(URL, {"limit": 2}).json()["has_more"] is False


def test_limit_defaults_to_100_and_is_capped_at_1000(api):
    events_store(drafts=[event_draft({"topic": "bulk.load", "data": {"n": n}}) for n in range(1000)])
    events_store(drafts=[event_draft({"topic": "bulk.load", "data": {"n": 1000}})])
    assert len(api.get(URL).json()["events"]) == 100
    capped = api.get(URL, {"limit": 5000}).json()
    assert len(capped["events"]) == 1000 and capped["has_more"] is True


def test_changed_since_is_inclusive(api):
    events = _publish(3)
    for event, second in zip(events, (10, 20, 30), strict=True):
        Event.objects.filter(pk=event.pk).update(ts=datetime(2024, 5, 7, 14, 0, second, tzinfo=UTC))
    answer = api.get(URL, {"changed_since": "2024-05-07T14:00:20Z"}).json()
    assert [e["cursor"] for e in answer["events"]] == [events[1].id, events[2].id]


@pytest.mark.parametrize(
    "value",
    ["2024-05-07T16:00:20+02:00", "2024-05-07t14:00:20.000z", "2024-05-07T14:00:20.123456789Z", "2024-05-07 14:00:20Z"],
)
def test_changed_since_takes_rfc3339_forms(api, value):
    events = _publish(2)
    Event.objects.filter(pk=events[0].pk).update(ts=datetime(2024, 5, 7, 14, 0, 19, tzinfo=UTC))
    Event.objects.filter(pk=events[1].pk).update(ts=datetime(2024, 5, 7, 14, 0, 21, tzinfo=UTC))
    response = api.get(f"{URL}?changed_since={quote(value)}")
    assert response.status_code == 200, response.content
    assert [e["cursor"] for e in response.json()["events"]] == [events[1].id]


def test_changed_since_with_an_unencoded_plus_still_reads_the_offset(api):
    events = _publish(1)
    Event.objects.filter(pk=events[0].pk).update(ts=datetime(2024, 5, 7, 14, 0, 0, tzinfo=UTC))
    # "+" unencoded in a query string arrives as a space.
    assert len(api.get(f"{URL}?changed_since=2024-05-07T15:00:00+01:00").json()["events"]) == 1
    assert len(api.get(f"{URL}?changed_since=2024-05-07T15:00:01+01:00").json()["events"]) == 0


def test_changed_since_and_since_cursor_combine(api):
    events = _publish(3)
    Event.objects.update(ts=datetime(2024, 1, 1, tzinfo=UTC))
    answer = api.get(URL, {"changed_since": "2024-01-01T00:00:00Z", "since_cursor": events[0].id}).json()
    assert [e["cursor"] for e in answer["events"]] == [events[1].id, events[2].id]


@pytest.mark.parametrize(
    "query",
    [
        {"changed_since": "yesterday"},
        {"changed_since": "2024-05-07"},
        {"changed_since": "2024-05-07T14:00:00"},
        {"changed_since": "2024-13-07T14:00:00Z"},
        {"changed_since": "2024-05-07T25:00:00Z"},
        {"since_cursor": "abc"},
        {"since_cursor": "-1"},
        {"since_cursor": "1.5"},
        {"since_cursor": "99999999999999999999999"},
        {"limit": "0"},
        {"limit": "-5"},
        {"limit": "ten"},
        {"channel": "prod"},
    ],
)
def test_bad_parameters_are_400(api, query):
    response = api.get(URL, query)
    assert response.status_code == 400, response.content
    assert set(response.json()) == {"error", "detail"}


def test_live_by_default_and_test_on_request(api):
    live = _publish(1)[0]
    test = _publish(1, channel="test")[0]
    assert [e["cursor"] for e in api.get(URL).json()["events"]] == [live.id]
    assert [e["cursor"] for e in api.get(URL, {"channel": "test"}).json()["events"]] == [test.id]


def test_events_need_a_key(anon, db):
    assert anon.get(URL).status_code == 401


def test_events_need_the_read_scope(make_key, bearer):
    assert bearer(make_key(scopes=["publish"])).get(URL).status_code == 403


def test_a_subscriber_key_may_not_pull_every_event(make_key, bearer):
    from hub.models import Subscriber

    subscriber = Subscriber.objects.create(id="s", url="https://127.0.0.1/h", topics=["#"])
    response = bearer(make_key(scopes=["read"], subscriber=subscriber)).get(URL)
    assert response.status_code == 403


def test_a_staff_session_may_pull(admin_client):
    _publish(1)
    response = admin_client.get(URL)
    assert response.status_code == 200
    assert len(response.json()["events"]) == 1
