"""The dispatcher as it runs in production: `manage.py qcluster` subprocesses on the test database."""

import signal
import subprocess
import time

from django.db import connection

import hub
from hub.models import Attempt, Delivery
from hub.services.events import event_drafts, events_store
from tests.dispatch.support import make_subscriber, verify, wait_until
from tests.fixtures.receivers import Reply


def publish_many(count: int) -> None:
    events_store(drafts=event_drafts([{"topic": "drug.copay", "data": {"n": n}} for n in range(count)]))


def test_deliveries_in_flight_when_a_worker_is_killed_arrive_after_a_restart(start_worker, worker_env, https_receiver):
    lease = {"ESS_DELIVERY_LEASE_SECONDS": "3", "ESS_DELIVERY_TIMEOUT_SECONDS": "1.5"}
    _, secret = make_subscriber(url=https_receiver.url)
    https_receiver.script(Reply(status=200, delay=1.0))
    publish_many(20)
    worker = start_worker(**worker_env, **lease)
    wait_until(lambda: len(https_receiver.requests) >= 5, timeout=20, message="sends in flight")

    worker.signal(signal.SIGKILL)
    worker.popen.wait(5)

    # Claimed, sent, never recorded: only the lease can bring them back.
    assert Delivery.objects.filter(status=Delivery.Status.PENDING, lease_token__isnull=False).exists()
    https_receiver.script(Reply(status=200))
    start_worker(**worker_env, **lease)
    wait_until(
        lambda: not Delivery.objects.exclude(status=Delivery.Status.DELIVERED).exists(),
        timeout=30,
        message="every delivery delivered",
    )
    uids = set(Delivery.objects.values_list("uid", flat=True))
    assert len(uids) == 20
    assert {r.headers["X-ESS-Delivery"] for r in https_receiver.requests} == uids
    for request in https_receiver.requests:
        verify(secret, request)


def test_a_published_event_wakes_the_dispatcher_at_once_without_waiting_for_the_poll(
    start_worker, worker_env, https_receiver
):
    make_subscriber(url=https_receiver.url)
    worker = start_worker(**worker_env, ESS_DISPATCH_POLL_SECONDS="30")
    wait_until(lambda: "dispatcher ready" in worker.output(), timeout=20, message="a ready dispatcher")
    time.sleep(1.0)  # it has found nothing to do and sleeps on its 30 s poll

    published = time.monotonic()
    hub.publish("drug.copay", {"a": 1})
    [request] = https_receiver.wait_for(1, timeout=10)

    assert request.at - published < 2.0


def test_the_throttle_holds_across_two_workers(start_worker, worker_env, https_receiver):
    make_subscriber(url=https_receiver.url, throttle=5)
    publish_many(30)

    start_worker(**worker_env)
    start_worker(**worker_env)
    requests = https_receiver.wait_for(30, timeout=30)

    assert len({r.headers["X-ESS-Delivery"] for r in requests}) == 30
    arrivals = sorted(r.at for r in requests)
    busiest = max(sum(1 for t in arrivals if start <= t < start + 1.0) for start in arrivals)
    assert busiest <= 6
    wait_until(lambda: Delivery.objects.filter(status=Delivery.Status.DELIVERED).count() == 30, timeout=5)
    assert Attempt.objects.count() == 30  # waiting for a slot never cost an attempt


def test_a_refused_address_is_dead_at_once_with_the_reason(start_worker, worker_env, https_receiver):
    make_subscriber(url=https_receiver.url)
    hub.publish("drug.copay", {"a": 1})

    worker = start_worker(**worker_env, ESS_ALLOW_PRIVATE_NETWORKS="")
    wait_until(
        lambda: Delivery.objects.filter(status=Delivery.Status.DEAD).exists(), timeout=20, message="a dead delivery"
    )

    assert https_receiver.requests == []
    delivery = Delivery.objects.get()
    assert delivery.attempts == 1
    attempt = Attempt.objects.get()
    assert attempt.outcome == Attempt.Outcome.FAILURE
    assert "127.0.0.1 is a loopback address" in attempt.error
    assert delivery.last_error == attempt.error

    worker.signal(signal.SIGTERM)
    try:
        worker.popen.wait(10)
    except subprocess.TimeoutExpired:
        raise AssertionError("qcluster did not stop on SIGTERM:\n" + worker.output()) from None
    assert "dispatcher stopped" in worker.output()


def test_the_dispatcher_carries_on_after_its_database_connections_are_cut(start_worker, worker_env, https_receiver):
    make_subscriber(url=https_receiver.url)
    start_worker(**worker_env)
    hub.publish("drug.copay", {"a": 1})
    https_receiver.wait_for(1, timeout=20)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    hub.publish("drug.copay", {"a": 2})

    https_receiver.wait_for(2, timeout=15)
    wait_until(lambda: Delivery.objects.filter(status=Delivery.Status.DELIVERED).count() == 2, timeout=10)
