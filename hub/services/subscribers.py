"""Subscribers: registration (API), creation and edits (admin), pause, resume, secret rotation.

Every path validates with `subscriber_config_clean`, stores the signing secret
only encrypted, and records what a person did (hub.services.audit). Must never
return a secret except to the caller that just created or rotated it, and
never write the progress columns the dispatchers own (last_ack_*, throttle).
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from hub import crypto
from hub.exceptions import Conflict
from hub.models import ApiKey, ManualAction, Subscriber
from hub.services.audit import Actor, manual_action_record
from hub.services.events import NOTIFY_CHANNEL
from hub.services.keys import api_key_create
from hub.services.subscriber_config import SubscriberConfig, subscriber_config_clean
from hub.signing import generate_secret

# The settings a person edits; the rest of the row belongs to the hub.
CONFIG_FIELDS = ("url", "test_url", "topics", "throttle", "max_retries", "retry_base_seconds", "redact")
CONNECTOR_FIELDS = ("connector", "target", "test_target", "schedule")


@dataclass
class Registration:
    subscriber: Subscriber
    secret: str
    key: str


def _target(subscriber_id: str) -> str:
    return f"subscriber:{subscriber_id}"


def _insert(*, config: SubscriberConfig, source: str) -> tuple[Subscriber, str]:
    """Insert the row; a taken id is a Conflict (409), also when two requests race."""
    secret = config.secret or generate_secret()
    try:
        with transaction.atomic():
            subscriber = Subscriber.objects.create(
                id=config.id,
                kind=Subscriber.Kind.CONNECTOR if config.connector else Subscriber.Kind.WEBHOOK,
                source=source,
                state=Subscriber.State.ACTIVE if config.enabled else Subscriber.State.PAUSED,
                secret_encrypted=crypto.encrypt(secret),
                **{name: getattr(config, name) for name in CONFIG_FIELDS + CONNECTOR_FIELDS},
            )
    except IntegrityError:
        raise Conflict(f"a subscriber with id {config.id!r} already exists", {"id": "already taken"}) from None
    return subscriber, secret


@transaction.atomic
def subscriber_register(*, data: dict) -> Registration:
    """POST /ess/register: validate, store the subscriber and its own API key (scope read) together."""
    config = subscriber_config_clean(data)
    subscriber, secret = _insert(config=config, source=Subscriber.Source.API)
    _, token = api_key_create(name=f"subscriber {subscriber.id}", scopes=[ApiKey.Scope.READ], subscriber=subscriber)
    return Registration(subscriber=subscriber, secret=secret, key=token)


@transaction.atomic
def subscriber_create(*, config: SubscriberConfig, by: Actor) -> tuple[Subscriber, str]:
    """Staff create a subscriber (admin); returns it and its signing secret, shown once."""
    subscriber, secret = _insert(config=config, source=Subscriber.Source.ADMIN)
    manual_action_record(
        by=by,
        action=ManualAction.Action.SUBSCRIBER_CREATE,
        target=_target(subscriber.id),
        detail={"secret": "given" if config.secret else "generated"},
    )
    return subscriber, secret


@transaction.atomic
def subscriber_update(*, subscriber: Subscriber, config: SubscriberConfig, by: Actor) -> list[str]:
    """Staff edit a subscriber's settings; returns the names of the fields that changed."""
    row = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
    names = CONFIG_FIELDS + (CONNECTOR_FIELDS if row.kind == Subscriber.Kind.CONNECTOR else ())
    changed = [name for name in names if getattr(row, name) != getattr(config, name)]
    if changed:
        for name in changed:
            setattr(row, name, getattr(config, name))
        # update_fields: the dispatchers write progress columns of this row concurrently.
        row.save(update_fields=[*changed, "updated_at"])
        manual_action_record(
            by=by, action=ManualAction.Action.SUBSCRIBER_EDIT, target=_target(row.pk), detail={"fields": changed}
        )
    return changed


def _set_state(*, subscriber: Subscriber, from_state: str, to_state: str, action: str, by: Actor) -> bool:
    changed = Subscriber.objects.filter(pk=subscriber.pk, state=from_state).update(
        state=to_state, updated_at=timezone.now()
    )
    if changed:
        manual_action_record(by=by, action=action, target=_target(subscriber.pk))
        subscriber.state = to_state
    return bool(changed)


@transaction.atomic
def subscriber_pause(*, subscriber: Subscriber, by: Actor) -> bool:
    """Stop sending to an active subscriber; its deliveries keep queueing. False when it was not active."""
    return _set_state(
        subscriber=subscriber,
        from_state=Subscriber.State.ACTIVE,
        to_state=Subscriber.State.PAUSED,
        action=ManualAction.Action.SUBSCRIBER_PAUSE,
        by=by,
    )


@transaction.atomic
def subscriber_resume(*, subscriber: Subscriber, by: Actor) -> bool:
    """Send again to a paused subscriber, waking the dispatchers on commit. False when it was not paused."""
    resumed = _set_state(
        subscriber=subscriber,
        from_state=Subscriber.State.PAUSED,
        to_state=Subscriber.State.ACTIVE,
        action=ManualAction.Action.SUBSCRIBER_RESUME,
        by=by,
    )
    if resumed and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, '')", [NOTIFY_CHANNEL])
    return resumed


@transaction.atomic
def secret_rotate(*, subscriber: Subscriber, by: Actor) -> str:
    """A new signing secret; the current one keeps signing beside it for ESS_ROTATION_OVERLAP_HOURS.

    Returns the new secret, which is shown once.
    """
    row = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
    secret = generate_secret()
    expires_at = timezone.now() + timedelta(hours=settings.ESS_ROTATION_OVERLAP_HOURS)
    row.previous_secret_encrypted = row.secret_encrypted
    row.previous_secret_expires_at = expires_at
    row.secret_encrypted = crypto.encrypt(secret)
    row.save(
        update_fields=["secret_encrypted", "previous_secret_encrypted", "previous_secret_expires_at", "updated_at"]
    )
    manual_action_record(
        by=by,
        action=ManualAction.Action.SECRET_ROTATE,
        target=_target(row.pk),
        detail={"previous_valid_until": expires_at.isoformat()},
    )
    return secret
