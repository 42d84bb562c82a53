"""The subscriber admin: the same validation as the API, secrets shown once, pause, resume, rotate,
file-sourced subscribers marked, and every manual action recorded."""

import re

import pytest

from hub import crypto
from hub.models import ManualAction, Subscriber

ADD = "/admin/hub/subscriber/add/"
LIST = "/admin/hub/subscriber/"
HOOK = "https://127.0.0.1:8443/hook"
SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]{44}")


def _change(sid: str) -> str:
    return f"/admin/hub/subscriber/{sid}/change/"


@pytest.fixture(autouse=True)
def loopback_allowed(settings):
    settings.ESS_ALLOW_PRIVATE_NETWORKS = ["127.0.0.0/8"]
    return settings


def _form(**overrides) -> dict:
    form = {
        "id": "md-mm1",
        "url": HOOK,
        "test_url": "",
        "topics": "drug.copay, appointment.*",
        "throttle": "5",
        "max_retries": "",
        "retry_base_seconds": "",
        "redact": "patient.ssn",
        "secret": "",
        "_save": "Save",
    }
    form.update(overrides)
    return form


def _act(admin_client, action: str, *ids: str):
    return admin_client.post(LIST, {"action": action, "_selected_action": list(ids), "index": 0}, follow=True)


def _subscriber(sid: str = "md-mm1", **fields) -> Subscriber:
    return Subscriber.objects.create(
        id=sid, url=HOOK, topics=["#"], secret_encrypted=crypto.encrypt("whsec_c2VjcmV0"), **fields
    )


def test_add_form_creates_the_subscriber_and_shows_its_secret_once(admin_client, settings):
    settings.ESS_MAX_RETRIES = 4
    response = admin_client.post(ADD, _form(), follow=True)
    assert response.status_code == 200
    shown = SECRET.findall(response.content.decode())
    row = Subscriber.objects.get(pk="md-mm1")
    assert shown == [crypto.decrypt(row.secret_encrypted)]
    assert (row.topics, row.throttle, row.redact, row.source) == (
        ["drug.copay", "appointment.*"],
        5,
        ["patient.ssn"],
        "admin",
    )
    assert row.max_retries == 4

    later = admin_client.get(_change("md-mm1")).content.decode()
    assert shown[0] not in later
    assert row.secret_encrypted not in later
    assert admin_client.get(LIST).content.decode().count("whsec_") == 0


def test_add_form_takes_a_given_secret_without_ever_rendering_it(admin_client):
    admin_client.post(ADD, _form(secret="partner-agreed-secret"), follow=True)
    assert crypto.decrypt(Subscriber.objects.get().secret_encrypted) == "partner-agreed-secret"
    assert "partner-agreed-secret" not in admin_client.get(_change("md-mm1")).content.decode()


def test_creation_is_recorded_with_who_and_when(admin_client, admin_user):
    admin_client.post(ADD, _form(), follow=True)
    action = ManualAction.objects.get()
    assert (action.action, action.user, action.target) == ("subscriber.create", admin_user, "subscriber:md-mm1")
    assert action.at is not None


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("url", "http://127.0.0.1/hook", "http:// is refused"),
        ("url", "not a url", "absolute https://"),
        ("topics", "Drug.Copay", "invalid topic pattern"),
        ("topics", "", "topics must be"),
        ("throttle", "0", "throttle must be"),
        ("redact", "a..b", "redact must be"),
        ("id", "has space", "id is required"),
    ],
)
def test_invalid_settings_are_refused_with_a_form_error(admin_client, field, value, reason):
    response = admin_client.post(ADD, _form(**{field: value}))
    assert response.status_code == 200
    assert reason in response.content.decode()
    assert field in response.context["adminform"].form.errors
    assert not Subscriber.objects.exists()


def test_a_loopback_url_is_refused_unless_its_network_is_allowed(admin_client, loopback_allowed):
    loopback_allowed.ESS_ALLOW_PRIVATE_NETWORKS = []
    response = admin_client.post(ADD, _form())
    assert "loopback" in str(response.context["adminform"].form.errors["url"])
    assert not Subscriber.objects.exists()


def test_a_taken_id_is_a_form_error(admin_client):
    _subscriber()
    response = admin_client.post(ADD, _form())
    assert "already exists" in str(response.context["adminform"].form.errors["id"])


def test_edit_changes_the_settings_and_is_recorded(admin_client):
    _subscriber(max_retries=5, retry_base_seconds=30.0)
    form = _form(topics="policy.#", throttle="", max_retries="5", retry_base_seconds="30")
    response = admin_client.post(_change("md-mm1"), form, follow=True)
    assert response.status_code == 200
    row = Subscriber.objects.get()
    assert (row.topics, row.throttle) == (["policy.#"], None)
    assert ManualAction.objects.get().detail == {"fields": ["topics", "redact"]}


def test_an_invalid_edit_changes_nothing(admin_client):
    _subscriber()
    response = admin_client.post(_change("md-mm1"), _form(url="http://127.0.0.1/x"))
    assert "url" in response.context["adminform"].form.errors
    assert Subscriber.objects.get().url == HOOK
    assert not ManualAction.objects.exists()


def test_the_change_page_never_renders_secret_fields(admin_client):
    _subscriber(previous_secret_encrypted=crypto.encrypt("whsec_b2xk"))
    page = admin_client.get(_change("md-mm1")).content.decode()
    assert "secret_encrypted" not in page
    assert 'name="secret"' not in page
    assert "whsec_" not in page


def test_pause_and_resume_actions(admin_client):
    _subscriber("a")
    _subscriber("b", state="paused")
    _act(admin_client, "pause", "a", "b")
    assert dict(Subscriber.objects.values_list("id", "state")) == {"a": "paused", "b": "paused"}
    _act(admin_client, "resume", "a", "b")
    assert dict(Subscriber.objects.values_list("id", "state")) == {"a": "active", "b": "active"}
    recorded = list(ManualAction.objects.order_by("id").values_list("action", "target"))
    assert recorded == [
        ("subscriber.pause", "subscriber:a"),
        ("subscriber.resume", "subscriber:a"),
        ("subscriber.resume", "subscriber:b"),
    ]


def test_rotate_action_shows_the_new_secret_once_and_keeps_the_previous(admin_client):
    _subscriber()
    response = _act(admin_client, "rotate_secret", "md-mm1")
    shown = SECRET.findall(response.content.decode())
    row = Subscriber.objects.get()
    assert shown == [crypto.decrypt(row.secret_encrypted)]
    assert crypto.decrypt(row.previous_secret_encrypted) == "whsec_c2VjcmV0"
    assert row.previous_secret_expires_at is not None
    assert shown[0] not in admin_client.get(_change("md-mm1")).content.decode()
    assert ManualAction.objects.get().action == "secret.rotate"


def test_file_sourced_subscribers_are_marked_and_warned_about(admin_client):
    _subscriber("from-file", source="file", file_path="subscribers/from-file.yml")
    _subscriber("from-api", source="api")
    listing = admin_client.get(LIST).content.decode()
    assert "edits here are overwritten by the file" in listing
    assert "subscribers/from-file.yml" in listing
    warned = admin_client.get(_change("from-file")).content.decode()
    assert "overwritten by the file" in warned
    assert "overwritten by the file" not in admin_client.get(_change("from-api")).content.decode()


def test_subscribers_cannot_be_deleted_from_the_admin(admin_client):
    _subscriber()
    assert admin_client.get("/admin/hub/subscriber/md-mm1/delete/").status_code == 403


def test_a_connector_subscriber_keeps_its_target_when_edited(admin_client):
    target = {"host": "sftp.mo.gov", "username": "hub", "directory": "/in", "key_env": "K", "host_key": "x"}
    Subscriber.objects.create(
        id="mo", kind="connector", connector="mo-medicaid", target=target, topics=["policy.published"], source="file"
    )
    assert "sftp.mo.gov" in admin_client.get(_change("mo")).content.decode()
    form = _form(url="", topics="policy.#", throttle="", redact="", max_retries="5", retry_base_seconds="30")
    response = admin_client.post(_change("mo"), form, follow=True)
    assert response.status_code == 200
    row = Subscriber.objects.get()
    assert (row.topics, row.target, row.connector) == (["policy.#"], target, "mo-medicaid")
