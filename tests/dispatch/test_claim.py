"""Claiming, leases and the throttle's slots, through the service functions on PostgreSQL."""

import time
from datetime import timedelta

import pytest

import hub
from hub.models import Attempt, Delivery, Subscriber
from hub.services.deliveries import (
    DeliveryOutcome,
    Verdict,
    database_now,
    deliveries_record,
    delivery_claim,
)
from tests.dispatch.support import make_subscriber

pytestmark = pytest.mark.django_db

URL = "https://receiver.example/hook"


def acked(delivery, *, duration: float = 0.01) -> DeliveryOutcome:
    return DeliveryOutcome(delivery, Verdict.ACKED, time.monotonic() - duration, duration=duration, status_code=200)


def test_a_claim_leases_due_deliveries_so_no_other_claim_takes_them():
    make_subscriber(url=URL)
    for n in range(3):
        hub.publish("drug.copay", {"n": n})

    first = delivery_claim(limit=2, lease_seconds=30)
    second = delivery_claim(limit=2, lease_seconds=30)
    third = delivery_claim(limit=2, lease_seconds=30)

    assert [len(c.deliveries) for c in (first, second, third)] == [2, 1, 0]
    assert len({d.id for c in (first, second) for d in c.deliveries}) == 3
    now, _ = database_now()
    for row in Delivery.objects.all():
        assert row.status == Delivery.Status.PENDING and row.lease_token is not None
        assert now + timedelta(seconds=25) < row.next_attempt_at == row.lease_expires_at


def test_a_delivery_whose_lease_ran_out_is_claimed_again_and_the_old_outcome_is_dropped():
    make_subscriber(url=URL)
    hub.publish("drug.copay", {"n": 1})
    [stale] = delivery_claim(limit=10, lease_seconds=0).deliveries
    [fresh] = delivery_claim(limit=10, lease_seconds=30).deliveries
    assert fresh.id == stale.id and fresh.lease_token != stale.lease_token

    assert deliveries_record(outcomes=[acked(stale)]) == {}
    assert Delivery.objects.get().status == Delivery.Status.PENDING
    assert not Attempt.objects.exists()

    assert deliveries_record(outcomes=[acked(fresh)]) == {Delivery.Status.DELIVERED: 1}
    assert Attempt.objects.count() == 1


def test_the_acked_cursor_only_grows_when_outcomes_are_recorded_out_of_order():
    make_subscriber(url=URL)
    events = [hub.publish("drug.copay", {"n": n}) for n in range(2)]
    earlier, later = sorted(delivery_claim(limit=10).deliveries, key=lambda d: d.cursor)

    deliveries_record(outcomes=[acked(later)])
    deliveries_record(outcomes=[acked(earlier)])

    assert Subscriber.objects.get().last_ack_cursor == events[1].cursor


def test_a_throttled_subscriber_gets_evenly_paced_slots_within_the_next_second_only():
    make_subscriber(url=URL, throttle=5)
    for n in range(20):
        hub.publish("drug.copay", {"n": n})

    claim = delivery_claim(limit=64)

    starts = sorted(d.start_at for d in claim.deliveries)
    assert len(starts) == 5
    assert claim.throttled
    assert all(abs((b - a) - 0.2) < 1e-3 for a, b in zip(starts, starts[1:], strict=False))
    assert Delivery.objects.filter(lease_token__isnull=True).count() == 15  # they wait; no attempt is spent


def test_a_full_throttle_does_not_hold_back_other_subscribers():
    make_subscriber(id="slow", url=URL, throttle=1)
    for n in range(10):
        hub.publish("drug.copay", {"n": n})
    make_subscriber(id="fast", url=URL)
    for n in range(3):
        hub.publish("drug.copay", {"n": n})

    claimed = []
    while True:
        claim = delivery_claim(limit=5)
        claimed += claim.deliveries
        if not claim.throttled:
            break

    by_subscriber = [d.subscriber_id for d in claimed]
    assert by_subscriber.count("fast") == 3
    assert by_subscriber.count("slow") <= 2


def test_a_throttle_set_on_a_subscriber_holds_from_its_next_claim(settings):
    subscriber, _ = make_subscriber(url=URL)
    for n in range(10):
        hub.publish("drug.copay", {"n": n})
    assert len(delivery_claim(limit=2).deliveries) == 2  # unthrottled: one statement, no throttle look
    Subscriber.objects.filter(pk=subscriber.pk).update(throttle=1)

    claimed = delivery_claim(limit=64).deliveries

    assert len(claimed) <= 1  # never a burst past the new throttle, even before the hub looks again
