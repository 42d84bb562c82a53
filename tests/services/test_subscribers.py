"""hub.services.subscribers: rotation, pause and resume, edits, and the record of who did what."""

from datetime import timedelta

import pytest
from django.utils import timezone

from hub import crypto
from hub.exceptions import Conflict, InvalidInput
from hub.models import ApiKey, ManualAction, Subscriber
from hub.services.secrets import subscriber_signing_secrets
from hub.services.subscriber_config import subscriber_config_clean
from hub.services.subscribers import (
    secret_rotate,
    subscriber_create,
    subscriber_pause,
    subscriber_register,
    subscriber_resume,
    subscriber_update,
)

HOOK = "https://127.0.0.1:8443/hook"


@pytest.fixture(autouse=True)
def loopback_allowed(settings):
    settings.ESS_ALLOW_PRIVATE_NETWORKS = ["127.0.0.0/8"]


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("alice", is_staff=True)


@pytest.fixture
def subscriber(db):
    return subscriber_register(data={"id": "md-mm1", "url": HOOK, "topics": ["drug.#"]}).subscriber


def test_rotation_keeps_the_previous_secret_for_the_overlap(subscriber, staff, settings):
    settings.ESS_ROTATION_OVERLAP_HOURS = 24
    old = crypto.decrypt(subscriber.secret_encrypted)
    new = secret_rotate(subscriber=subscriber, by=staff)
    row = Subscriber.objects.get(pk=subscriber.pk)
    assert crypto.decrypt(row.secret_encrypted) == new != old
    assert crypto.decrypt(row.previous_secret_encrypted) == old
    expected = timezone.now() + timedelta(hours=24)
    assert abs(row.previous_secret_expires_at - expected) < timedelta(seconds=5)
    assert subscriber_signing_secrets(row) == [new, old]


def test_rotation_does_not_touch_the_dispatchers_progress(subscriber, staff):
    # The dispatcher writes progress while staff rotate: a stale in-memory row must not overwrite it.
    Subscriber.objects.filter(pk=subscriber.pk).update(last_ack_cursor=42)
    secret_rotate(subscriber=subscriber, by=staff)
    assert Subscriber.objects.get(pk=subscriber.pk).last_ack_cursor == 42


def test_rotation_is_recorded_without_the_secret(subscriber, staff):
    new = secret_rotate(subscriber=subscriber, by=staff)
    action = ManualAction.objects.get(action=ManualAction.Action.SECRET_ROTATE)
    assert (action.user, action.actor, action.target) == (staff, "alice", "subscriber:md-mm1")
    assert new not in str(action.detail)


def test_pause_then_resume_are_recorded(subscriber, staff):
    assert subscriber_pause(subscriber=subscriber, by=staff) is True
    assert Subscriber.objects.get(pk=subscriber.pk).state == "paused"
    assert subscriber_resume(subscriber=subscriber, by=staff) is True
    assert Subscriber.objects.get(pk=subscriber.pk).state == "active"
    actions = list(ManualAction.objects.order_by("id").values_list("action", "actor", "target"))
    assert actions == [
        ("subscriber.pause", "alice", "subscriber:md-mm1"),
        ("subscriber.resume", "alice", "subscriber:md-mm1"),
    ]


def test_pause_of_a_paused_subscriber_changes_and_records_nothing(subscriber, staff):
    subscriber_pause(subscriber=subscriber, by=staff)
    assert subscriber_pause(subscriber=subscriber, by=staff) is False
    assert ManualAction.objects.count() == 1


def test_resume_leaves_a_disabled_subscriber_disabled(subscriber, staff):
    Subscriber.objects.filter(pk=subscriber.pk).update(state="disabled")
    assert subscriber_resume(subscriber=subscriber, by=staff) is False
    assert Subscriber.objects.get(pk=subscriber.pk).state == "disabled"


def test_edit_records_the_changed_fields(subscriber, staff):
    settings = {"max_retries": subscriber.max_retries, "retry_base_seconds": subscriber.retry_base_seconds}
    config = subscriber_config_clean({"id": "md-mm1", "url": HOOK, "topics": ["drug.copay"], "throttle": 3, **settings})
    changed = subscriber_update(subscriber=subscriber, config=config, by=staff)
    assert changed == ["topics", "throttle"]
    row = Subscriber.objects.get(pk=subscriber.pk)
    assert (row.topics, row.throttle) == (["drug.copay"], 3)
    action = ManualAction.objects.get(action=ManualAction.Action.SUBSCRIBER_EDIT)
    assert action.detail == {"fields": changed}


def test_create_by_staff_is_recorded_and_returns_the_secret_once(staff, db):
    config = subscriber_config_clean({"id": "uat", "url": HOOK, "topics": ["#"]})
    subscriber, secret = subscriber_create(config=config, by=staff)
    assert subscriber.source == "admin"
    assert crypto.decrypt(subscriber.secret_encrypted) == secret
    action = ManualAction.objects.get()
    assert (action.action, action.actor, action.detail) == ("subscriber.create", "alice", {"secret": "generated"})


def test_register_creates_the_subscriber_and_its_key_together_or_not_at_all(subscriber):
    with pytest.raises(Conflict):
        subscriber_register(data={"id": "md-mm1", "url": HOOK, "topics": ["#"]})
    assert Subscriber.objects.count() == 1
    assert ApiKey.objects.filter(subscriber__isnull=False).count() == 1


def test_register_refuses_text_postgresql_cannot_store(db):
    with pytest.raises(InvalidInput) as refused:
        subscriber_register(data={"id": "a", "url": HOOK, "topics": ["#"], "redact": ["a\u0000b"]})
    assert "redact" in refused.value.detail
