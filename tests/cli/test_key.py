"""`manage.py ess key create|revoke`: the key is the last word of the last line, and works."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from hub.models import ApiKey, ManualAction, Subscriber


def _ess(*args) -> str:
    out = StringIO()
    call_command("ess", *args, stdout=out)
    return out.getvalue()


def _bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_key_create_prints_a_working_key_as_the_last_word(db):
    output = _ess("key", "create", "--name", "pharmacy", "--scopes", "publish,read")
    token = output.strip().splitlines()[-1].split()[-1]
    assert _bearer(token).post("/ess/publish", {"topic": "a.b", "data": {}}, format="json").status_code == 202
    assert _bearer(token).post("/ess/register", {}, format="json").status_code == 403
    assert ApiKey.objects.get().scopes == ["publish", "read"]


def test_key_create_is_recorded_as_a_command_line_action(db):
    _ess("key", "create", "--name", "ops", "--scopes", "read")
    action = ManualAction.objects.get()
    assert action.action == "key.create" and action.actor.startswith("cli:") and action.user is None


def test_key_bound_to_a_subscriber(db):
    Subscriber.objects.create(id="md-mm1", url="https://127.0.0.1/h", topics=["#"])
    _ess("key", "create", "--name", "md", "--scopes", "read", "--subscriber", "md-mm1")
    assert ApiKey.objects.get().subscriber_id == "md-mm1"


def test_unknown_subscriber_is_an_error(db):
    with pytest.raises(CommandError, match="no subscriber"):
        _ess("key", "create", "--name", "md", "--scopes", "read", "--subscriber", "nobody")
    assert not ApiKey.objects.exists()


def test_unknown_scope_is_an_error(db):
    with pytest.raises(CommandError, match="unknown scope"):
        _ess("key", "create", "--name", "x", "--scopes", "publish,admin")
    assert not ApiKey.objects.exists()


def test_key_revoke_by_prefix(db):
    token = _ess("key", "create", "--name", "old", "--scopes", "read").split()[-1]
    _ess("key", "revoke", ApiKey.objects.get().prefix)
    assert _bearer(token).get("/ess/events").status_code == 401
