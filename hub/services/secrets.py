"""Subscriber signing secrets: the current one and, during an overlap, the previous."""

from django.utils import timezone

from hub import crypto
from hub.models import Subscriber


def subscriber_signing_secrets(subscriber: Subscriber, *, now=None) -> list[str]:
    """Secrets to sign with, newest first: two while a rotation overlaps."""
    now = now or timezone.now()
    secrets = [crypto.decrypt(subscriber.secret_encrypted)]
    if (
        subscriber.previous_secret_encrypted
        and subscriber.previous_secret_expires_at is not None
        and subscriber.previous_secret_expires_at > now
    ):
        secrets.append(crypto.decrypt(subscriber.previous_secret_encrypted))
    return [secret for secret in secrets if secret]
