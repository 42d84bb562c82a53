"""The API key admin: a key is shown once on creation, never its hash, and revoking is recorded."""

import re

from rest_framework.test import APIClient

from hub.models import ApiKey, ManualAction, Subscriber

ADD = "/admin/hub/apikey/add/"
LIST = "/admin/hub/apikey/"
TOKEN = re.compile(r"ess_[A-Za-z0-9_-]{43}")


def _bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_created_key_is_shown_once_and_works(admin_client, admin_user):
    response = admin_client.post(ADD, {"name": "pharmacy", "scopes": ["publish", "read"], "_save": "Save"}, follow=True)
    shown = TOKEN.findall(response.content.decode())
    assert len(shown) == 1
    key = ApiKey.objects.get()
    assert (key.name, key.scopes, key.created_by) == ("pharmacy", ["publish", "read"], admin_user)
    assert _bearer(shown[0]).get("/ess/events").status_code == 200
    assert _bearer(shown[0]).post("/ess/register", {}, format="json").status_code == 403

    again = admin_client.get(LIST).content.decode() + admin_client.get(f"{LIST}{key.pk}/change/").content.decode()
    assert shown[0] not in again
    assert key.key_hash not in again


def test_key_bound_to_a_subscriber(admin_client):
    Subscriber.objects.create(id="md-mm1", url="https://127.0.0.1/h", topics=["#"])
    form = {"name": "md", "scopes": ["read"], "subscriber": "md-mm1", "_save": "Save"}
    admin_client.post(ADD, form, follow=True)
    assert ApiKey.objects.get().subscriber_id == "md-mm1"


def test_a_key_needs_a_scope(admin_client):
    response = admin_client.post(ADD, {"name": "nothing", "_save": "Save"})
    assert "scopes" in response.context["adminform"].form.errors
    assert not ApiKey.objects.exists()


def test_key_creation_is_recorded(admin_client, admin_user):
    admin_client.post(ADD, {"name": "pharmacy", "scopes": ["publish"], "_save": "Save"}, follow=True)
    action = ManualAction.objects.get()
    key = ApiKey.objects.get()
    assert (action.action, action.user, action.target) == ("key.create", admin_user, f"api_key:{key.pk}")
    assert action.detail["scopes"] == ["publish"]


def test_revoke_action_stops_the_key_and_is_recorded(admin_client, make_key):
    token = make_key(scopes=["read"])
    key = ApiKey.objects.get()
    admin_client.post(LIST, {"action": "revoke", "_selected_action": [key.pk], "index": 0}, follow=True)
    assert ApiKey.objects.get().revoked_at is not None
    assert _bearer(token).get("/ess/events").status_code == 401
    assert ManualAction.objects.get().action == "key.revoke"


def test_a_key_page_is_view_only(admin_client, make_key):
    make_key(scopes=["read"], name="before")
    key = ApiKey.objects.get()
    admin_client.post(f"{LIST}{key.pk}/change/", {"name": "after", "scopes": ["publish"]})
    assert (ApiKey.objects.get().name, ApiKey.objects.get().scopes) == ("before", ["read"])
