"""What a webhook subscriber receives, and retries, with the dispatcher running in-process."""

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

import hub
from hub import crypto
from hub.dispatch.dispatcher import dispatch_until_idle
from hub.models import Attempt, Delivery, Event, Subscriber
from hub.signing import generate_secret
from tests.dispatch.support import make_subscriber, verify
from tests.fixtures.receivers import Reply

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def trust_test_ca(ca_settings):
    return ca_settings


def test_delivers_the_exact_envelope_with_every_header(https_receiver):
    subscriber, secret = make_subscriber(url=https_receiver.url)
    event = hub.publish("drug.copay", {"ndc": "00002-8215", "copay": 25, "note": "café"})

    dispatch_until_idle()

    [request] = https_receiver.requests
    delivery = Delivery.objects.get()
    assert request.body == event.envelope.encode("utf-8")
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["webhook-id"] == request.headers["X-ESS-Delivery"] == delivery.uid
    assert "." not in delivery.uid
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 10
    verify(secret, request)
    assert request.headers["X-ESS-Topic"] == "drug.copay"
    assert request.headers["X-ESS-Cursor"] == str(event.cursor)
    assert request.headers["X-ESS-Attempt"] == "1"
    assert request.headers["X-Channel"] == "live"
    assert request.headers["User-Agent"] == "ess-hub/0.1.0"


def test_an_acknowledged_delivery_is_recorded_with_its_attempt_and_the_subscriber_progress(https_receiver):
    make_subscriber(url=https_receiver.url)
    events = [hub.publish("drug.copay", {"n": n}) for n in range(3)]

    dispatch_until_idle()

    assert set(Delivery.objects.values_list("status", "attempts")) == {(Delivery.Status.DELIVERED, 1)}
    assert all(d.delivered_at is not None and d.lease_token is None for d in Delivery.objects.all())
    attempts = list(Attempt.objects.all())
    assert [(a.number, a.outcome, a.status_code, a.response_excerpt) for a in attempts] == [
        (1, Attempt.Outcome.SUCCESS, 200, "ok")
    ] * 3
    subscriber = Subscriber.objects.get()
    assert subscriber.last_ack_cursor == events[-1].cursor
    assert subscriber.last_ack_at is not None


def test_failed_tries_are_retried_with_growing_gaps_until_acked(https_receiver):
    _, secret = make_subscriber(url=https_receiver.url, retry_base_seconds=0.3)
    https_receiver.script(Reply(status=500), Reply(status=500), Reply(status=200))
    hub.publish("drug.copay", {"a": 1})

    dispatch_until_idle()

    requests = https_receiver.requests
    assert [r.headers["X-ESS-Attempt"] for r in requests] == ["1", "2", "3"]
    assert len({r.headers["webhook-id"] for r in requests}) == 1
    for request in requests:
        verify(secret, request)  # each try is signed afresh
    first_gap, second_gap = requests[1].at - requests[0].at, requests[2].at - requests[1].at
    assert first_gap >= 0.3
    assert second_gap > first_gap
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == (Delivery.Status.DELIVERED, 3)
    assert list(Attempt.objects.order_by("number").values_list("outcome", "status_code")) == [
        (Attempt.Outcome.FAILURE, 500),
        (Attempt.Outcome.FAILURE, 500),
        (Attempt.Outcome.SUCCESS, 200),
    ]


def test_a_slow_receiver_does_not_hold_up_the_others(make_https_receiver, settings):
    settings.ESS_DISPATCH_CONCURRENCY = 4
    slow, fast = make_https_receiver(), make_https_receiver()
    slow.script(Reply(status=200, delay=1.5))
    make_subscriber(id="slow", url=slow.url, topics=["slow.#"])
    make_subscriber(id="fast", url=fast.url)
    for n in range(2):
        hub.publish("slow.copay", {"n": n})
    for n in range(4):
        hub.publish("drug.copay", {"n": n})

    dispatch_until_idle()

    assert (len(slow.requests), len(fast.requests)) == (2, 4)
    # The two slow sends hold two of the four slots; the fast subscriber's four all went through the rest.
    assert fast.requests[-1].at - fast.requests[0].at < 1.0


def test_dead_after_max_retries(https_receiver):
    make_subscriber(url=https_receiver.url, max_retries=2, retry_base_seconds=0.05)
    https_receiver.script(Reply(status=500, body=b"database is down"))
    hub.publish("drug.copay", {"a": 1})

    dispatch_until_idle()

    assert len(https_receiver.requests) == 3  # the first try and max_retries retries
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (Delivery.Status.DEAD, 3, 500)
    assert delivery.last_error == "answered HTTP 500"
    assert Attempt.objects.filter(outcome=Attempt.Outcome.FAILURE, response_excerpt="database is down").count() == 3
    subscriber = Subscriber.objects.get()
    assert subscriber.last_error == "answered HTTP 500"
    assert subscriber.last_error_at is not None


def test_retry_after_is_honoured(https_receiver):
    make_subscriber(url=https_receiver.url, retry_base_seconds=0.05)
    https_receiver.script(Reply(status=503, headers={"Retry-After": "1"}), Reply(status=200))
    hub.publish("drug.copay", {"a": 1})

    dispatch_until_idle()

    first, second = https_receiver.requests
    assert second.at - first.at >= 1.0
    assert Delivery.objects.get().status == Delivery.Status.DELIVERED


def test_an_answer_slower_than_the_timeout_is_a_failed_attempt(https_receiver, settings):
    settings.ESS_DELIVERY_TIMEOUT_SECONDS = 0.3
    make_subscriber(url=https_receiver.url, retry_base_seconds=0.05)
    https_receiver.script(Reply(status=200, delay=1.0), Reply(status=200))
    hub.publish("drug.copay", {"a": 1})

    dispatch_until_idle()

    assert len(https_receiver.requests) == 2
    failed, acked = Attempt.objects.order_by("number")
    assert failed.outcome == Attempt.Outcome.FAILURE
    assert failed.error == "no answer within the 0.3 s timeout"
    assert failed.status_code is None
    assert acked.outcome == Attempt.Outcome.SUCCESS
    assert Delivery.objects.get().status == Delivery.Status.DELIVERED


def test_a_redirect_is_a_failure_and_is_not_followed(make_https_receiver):
    first, second = make_https_receiver(), make_https_receiver()
    first.script(Reply(status=302, headers={"Location": second.url}))
    make_subscriber(url=first.url, max_retries=0)
    hub.publish("drug.copay", {"a": 1})

    dispatch_until_idle()

    assert len(first.requests) == 1
    assert second.requests == []
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.DEAD
    assert delivery.last_error == "answered HTTP 302; redirects are not followed"


def test_redacted_fields_are_absent_and_the_signature_covers_the_bytes_sent(https_receiver, settings):
    settings.ESS_PII_FIELDS = ["dob"]
    _, secret = make_subscriber(url=https_receiver.url, redact=["patient.ssn"])
    data = {"patient": {"ssn": "123-45-6789", "name": "Zoë"}, "dob": "1970-01-01", "copay": 25}
    event = hub.publish("drug.copay", data)

    dispatch_until_idle()

    [request] = https_receiver.requests
    received = json.loads(request.body)
    stored = json.loads(event.envelope)
    assert received["data"] == {"patient": {"name": "Zoë"}, "copay": 25}
    assert {k: v for k, v in received.items() if k != "data"} == {k: v for k, v in stored.items() if k != "data"}
    assert list(received) == list(stored)
    assert request.body == json.dumps(received, ensure_ascii=False, separators=(",", ":")).encode()
    assert b"123-45-6789" not in request.body and b"1970-01-01" not in request.body
    verify(secret, request)


def test_both_secrets_sign_while_a_rotation_overlaps_and_only_the_new_one_after(https_receiver):
    subscriber, new_secret = make_subscriber(url=https_receiver.url)
    old_secret = generate_secret()
    subscriber.previous_secret_encrypted = crypto.encrypt(old_secret)
    subscriber.previous_secret_expires_at = timezone.now() + timedelta(hours=1)
    subscriber.save()
    hub.publish("drug.copay", {"a": 1})
    dispatch_until_idle()

    subscriber.previous_secret_expires_at = timezone.now() - timedelta(seconds=1)
    subscriber.save()
    hub.publish("drug.copay", {"a": 2})
    dispatch_until_idle()

    during, after = https_receiver.requests
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    Webhook(new_secret).verify(during.body, during.headers)
    Webhook(old_secret).verify(during.body, during.headers)
    verify(new_secret, during)
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    Webhook(new_secret).verify(after.body, after.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old_secret).verify(after.body, after.headers)


def test_a_test_event_goes_to_test_url_only(make_https_receiver):
    production, uat = make_https_receiver(), make_https_receiver()
    _, secret = make_subscriber(url=production.url, test_url=uat.url)
    event = hub.publish("drug.copay", {"a": 1}, channel="test")

    dispatch_until_idle()

    assert production.requests == []
    [request] = uat.requests
    assert request.body == event.envelope.encode()
    assert request.headers["X-Channel"] == "test"
    verify(secret, request)
    assert Delivery.objects.get().status == Delivery.Status.DELIVERED


def test_a_test_event_for_a_subscriber_without_test_url_is_skipped_without_a_request(https_receiver):
    make_subscriber(url=https_receiver.url)
    hub.publish("drug.copay", {"a": 1}, channel="test")

    dispatch_until_idle()

    assert https_receiver.requests == []
    assert Delivery.objects.get().status == Delivery.Status.SKIPPED
    assert not Attempt.objects.exists()


def test_a_test_event_whose_test_url_was_removed_before_sending_is_skipped(make_https_receiver):
    production, uat = make_https_receiver(), make_https_receiver()
    subscriber, _ = make_subscriber(url=production.url, test_url=uat.url)
    hub.publish("drug.copay", {"a": 1}, channel="test")
    Subscriber.objects.filter(pk=subscriber.pk).update(test_url="")

    dispatch_until_idle()

    assert production.requests == [] and uat.requests == []
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == (Delivery.Status.SKIPPED, 0)


def test_an_http_url_is_refused_at_send_time_unless_its_host_is_allowed(http_receiver, settings):
    settings.ESS_ALLOW_HTTP_HOSTS = []
    make_subscriber(url=http_receiver.url)
    hub.publish("drug.copay", {"a": 1})

    dispatch_until_idle()

    assert http_receiver.requests == []
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == (Delivery.Status.DEAD, 1)
    assert "http:// is refused" in Attempt.objects.get().error


def test_paused_and_connector_subscribers_are_left_alone(https_receiver):
    make_subscriber(id="paused", url=https_receiver.url, state=Subscriber.State.PAUSED)
    make_subscriber(id="legacy", url=https_receiver.url, kind=Subscriber.Kind.CONNECTOR, connector="mo-medicaid")
    hub.publish("drug.copay", {"a": 1})

    dispatch_until_idle(timeout=1.0)

    assert https_receiver.requests == []
    assert set(Delivery.objects.values_list("status", "attempts")) == {(Delivery.Status.PENDING, 0)}
    assert Event.objects.count() == 1
