"""hub.publish, the in-process path: the same validation as the API."""

import math
from datetime import datetime

import pytest

import hub
from hub.exceptions import InvalidInput
from hub.models import Delivery, Event, Subscriber

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused(value):
    with pytest.raises(InvalidInput):
        hub.publish("drug.copay", {"copay": value})
    assert Event.objects.count() == 0


def test_values_json_cannot_hold_are_refused():
    with pytest.raises(InvalidInput, match="not JSON-serializable"):
        hub.publish("drug.copay", {"when": datetime(2024, 1, 1)})
    assert Event.objects.count() == 0


def test_an_event_and_its_deliveries_are_stored_together():
    Subscriber.objects.create(id="a", url="https://a.example/hook", topics=["drug.*"])
    Subscriber.objects.create(id="b", url="https://b.example/hook", topics=["appointment.#"])
    Subscriber.objects.create(id="c", url="https://c.example/hook", topics=["#"], state=Subscriber.State.DISABLED)
    event = hub.publish("drug.copay", {"ndc": "00002-8215"})
    stored = Event.objects.get()
    assert stored.envelope.startswith(f'{{"id":"{event.uid}","topic":"drug.copay","cursor":{event.id},')
    assert list(Delivery.objects.values_list("subscriber_id", "status", "attempts")) == [("a", "pending", 0)]


def test_a_test_event_for_a_subscriber_without_test_url_is_recorded_as_skipped():
    Subscriber.objects.create(id="a", url="https://a.example/hook", topics=["#"])
    Subscriber.objects.create(id="b", url="https://b.example/hook", test_url="https://uat.example/h", topics=["#"])
    hub.publish("drug.copay", {}, channel="test")
    assert dict(Delivery.objects.values_list("subscriber_id", "status")) == {"a": "skipped", "b": "pending"}


def test_cursors_increase_across_batches_and_singles():
    first = hub.publish("a", {})
    second = hub.publish("a", {})
    assert second.id == first.id + 1


def test_a_large_fan_out_stores_every_delivery():
    """1,000 events to 6 subscribers is past one statement's parameters: the chunked path stores it all."""
    for n in range(6):
        Subscriber.objects.create(id=f"s{n}", url=f"https://s{n}.example/hook", topics=["bulk.#"])
    from hub.services.events import event_drafts, events_store

    published = events_store(drafts=event_drafts([{"topic": "bulk.load", "data": {"n": n}} for n in range(1000)]))

    cursors = [p.event.id for p in published]
    assert cursors == list(range(cursors[0], cursors[0] + 1000))
    assert Event.objects.count() == 1000
    assert Delivery.objects.filter(status="pending").count() == 6000
    assert Event.objects.get(id=cursors[-1]).envelope.endswith(',"data":{"n":999}}')
