"""Helpers for the dispatch tests: subscribers with known secrets, waiting, signature checks."""

import hashlib
import hmac
import time

from standardwebhooks.webhooks import Webhook

from hub import crypto
from hub.models import Subscriber
from hub.signing import generate_secret, signing_key


def make_subscriber(*, url: str, id: str = "sub", topics=("drug.copay",), **fields) -> tuple[Subscriber, str]:
    """A webhook subscriber created with the ORM; returns it and its plain signing secret."""
    secret = generate_secret()
    fields.setdefault("retry_base_seconds", 0.2)
    subscriber = Subscriber.objects.create(
        id=id, url=url, topics=list(topics), secret_encrypted=crypto.encrypt(secret), **fields
    )
    return subscriber, secret


def wait_until(predicate, *, timeout: float, interval: float = 0.05, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(interval)
    raise AssertionError(f"{message} not reached within {timeout}s")


def verify(secret: str, request) -> None:
    """Both signatures of a received request, checked as a receiver would (raises if wrong)."""
    Webhook(secret).verify(request.body, request.headers)
    expected = "sha256=" + hmac.new(signing_key(secret), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-ESS-Signature"] == expected
