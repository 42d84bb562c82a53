"""POST /ess/register: fields round-trip, URL rules, duplicates, bad bodies, and what comes back."""

import base64
import json

import pytest

from hub import crypto
from hub.models import ApiKey, Subscriber

URL = "/ess/register"
HOOK = "https://127.0.0.1:8443/hook"


@pytest.fixture
def loopback_allowed(settings):
    settings.ESS_ALLOW_PRIVATE_NETWORKS = ["127.0.0.0/8"]
    return settings


def test_every_field_round_trips(api, loopback_allowed):
    body = {
        "id": "md-mm1",
        "url": HOOK,
        "topics": ["drug.copay", "appointment.*", "policy.#"],
        "throttle": 5,
        "secret": "s3cret-shared-with-the-partner",
        "test_url": "https://127.0.0.2:8443/uat",
        "max_retries": 7,
        "retry_base_seconds": 12.5,
        "redact": ["patient.ssn", "members.dob"],
    }
    response = api.post(URL, body, format="json")
    assert response.status_code == 201, response.content
    answer = response.json()
    assert list(answer) == [*(k for k in body if k != "secret"), "state", "secret", "key"]
    assert {k: answer[k] for k in body} == body
    assert answer["state"] == "active"
    row = Subscriber.objects.get(pk="md-mm1")
    assert (row.url, row.test_url, row.topics, row.throttle) == (HOOK, body["test_url"], body["topics"], 5)
    assert (row.max_retries, row.retry_base_seconds, row.redact) == (7, 12.5, body["redact"])
    assert (row.source, row.kind) == ("api", "webhook")
    assert crypto.decrypt(row.secret_encrypted) == body["secret"]
    assert body["secret"] not in row.secret_encrypted


def test_omitted_fields_take_the_hub_defaults(api, loopback_allowed):
    loopback_allowed.ESS_RETRY_BASE_SECONDS = 3.0
    loopback_allowed.ESS_MAX_RETRIES = 4
    answer = api.post(URL, {"id": "a", "url": HOOK, "topics": ["#"]}, format="json").json()
    assert answer["throttle"] is None and answer["test_url"] is None and answer["redact"] == []
    assert (answer["max_retries"], answer["retry_base_seconds"]) == (4, 3.0)


def test_generated_secret_is_whsec_and_base64_of_32_bytes(api, loopback_allowed):
    answer = api.post(URL, {"id": "a", "url": HOOK, "topics": ["#"]}, format="json").json()
    assert answer["secret"].startswith("whsec_")
    assert len(base64.b64decode(answer["secret"][len("whsec_") :], validate=True)) == 32
    assert crypto.decrypt(Subscriber.objects.get().secret_encrypted) == answer["secret"]


def test_http_url_is_refused(api, loopback_allowed):
    response = api.post(URL, {"id": "a", "url": "http://127.0.0.1:8080/hook", "topics": ["#"]}, format="json")
    assert response.status_code == 400
    assert "http://" in response.json()["detail"]["url"]
    assert not Subscriber.objects.exists()


def test_http_url_is_accepted_for_a_host_in_allow_http_hosts(api, loopback_allowed):
    loopback_allowed.ESS_ALLOW_HTTP_HOSTS = ["127.0.0.1"]
    response = api.post(URL, {"id": "a", "url": "http://127.0.0.1:8080/hook", "topics": ["#"]}, format="json")
    assert response.status_code == 201


def test_loopback_url_is_refused_until_its_network_is_allowed(api, settings):
    settings.ESS_ALLOW_PRIVATE_NETWORKS = []
    refused = api.post(URL, {"id": "a", "url": HOOK, "topics": ["#"]}, format="json")
    assert refused.status_code == 400
    assert "loopback" in refused.json()["detail"]["url"]
    assert not Subscriber.objects.exists()

    settings.ESS_ALLOW_PRIVATE_NETWORKS = ["127.0.0.0/8"]
    accepted = api.post(URL, {"id": "a", "url": HOOK, "topics": ["#"]}, format="json")
    assert accepted.status_code == 201


@pytest.mark.parametrize("url", ["https://10.1.2.3/hook", "https://169.254.169.254/latest", "https://[::1]/hook"])
def test_private_and_link_local_urls_are_refused(api, settings, url):
    settings.ESS_ALLOW_PRIVATE_NETWORKS = []
    response = api.post(URL, {"id": "a", "url": url, "topics": ["#"]}, format="json")
    assert response.status_code == 400
    assert "url" in response.json()["detail"]


def test_duplicate_id_is_409_and_keeps_the_first(api, loopback_allowed):
    api.post(URL, {"id": "a", "url": HOOK, "topics": ["x"]}, format="json")
    response = api.post(URL, {"id": "a", "url": HOOK, "topics": ["y"]}, format="json")
    assert response.status_code == 409
    assert set(response.json()) == {"error", "detail"}
    assert Subscriber.objects.get().topics == ["x"]
    assert ApiKey.objects.filter(subscriber__isnull=False).count() == 1


GOOD = {"id": "a", "url": HOOK, "topics": ["#"]}
BAD_BODIES = {
    "not json": b"{oops",
    "json array": [GOOD],
    "json number": 5,
    "empty object": {},
    "missing id": {"url": HOOK, "topics": ["#"]},
    "missing url": {"id": "a", "topics": ["#"]},
    "missing topics": {"id": "a", "url": HOOK},
    "id not a string": {**GOOD, "id": 7},
    "id with a space": {**GOOD, "id": "a b"},
    "id of 65 characters": {**GOOD, "id": "a" * 65},
    "url not a string": {**GOOD, "url": ["https://x"]},
    "url without scheme": {**GOOD, "url": "127.0.0.1/hook"},
    "ftp url": {**GOOD, "url": "ftp://127.0.0.1/hook"},
    "url with credentials": {**GOOD, "url": "https://user:pw@127.0.0.1/hook"},
    "url with a bad port": {**GOOD, "url": "https://127.0.0.1:99999/hook"},
    "topics empty": {**GOOD, "topics": []},
    "topics not a list": {**GOOD, "topics": "drug.copay"},
    "topic pattern upper case": {**GOOD, "topics": ["Drug.copay"]},
    "topic pattern half wildcard": {**GOOD, "topics": ["drug.co*"]},
    "throttle zero": {**GOOD, "throttle": 0},
    "throttle a string": {**GOOD, "throttle": "5"},
    "throttle a boolean": {**GOOD, "throttle": True},
    "secret empty": {**GOOD, "secret": ""},
    "test_url http": {**GOOD, "test_url": "http://127.0.0.1/uat"},
    "max_retries negative": {**GOOD, "max_retries": -1},
    "max_retries a float": {**GOOD, "max_retries": 2.5},
    "retry_base_seconds zero": {**GOOD, "retry_base_seconds": 0},
    "redact not a list": {**GOOD, "redact": "patient.ssn"},
    "redact with an empty path": {**GOOD, "redact": ["patient..ssn"]},
    "unknown field": {**GOOD, "enabled": False},
    "connector field": {**GOOD, "connector": "mo-medicaid"},
    "NUL in id": {**GOOD, "id": "a\u0000"},
    "NUL in url": {**GOOD, "url": HOOK + "\u0000"},
    "NUL in a redact path": {**GOOD, "redact": ["patient\u0000"]},
    "lone surrogate in test_url": {**GOOD, "test_url": HOOK + "\ud800"},
}


@pytest.mark.parametrize("case", BAD_BODIES)
def test_bad_body_is_a_json_4xx_and_stores_nothing(api, loopback_allowed, case):
    body = BAD_BODIES[case]
    data = body if isinstance(body, bytes) else json.dumps(body)
    response = api.post(URL, data=data, content_type="application/json")
    assert 400 <= response.status_code < 500, response.content
    assert set(response.json()) == {"error", "detail"}
    assert not Subscriber.objects.exists()
    assert not ApiKey.objects.filter(subscriber__isnull=False).exists()


def test_register_needs_the_register_scope(make_key, loopback_allowed, bearer):
    response = bearer(make_key(scopes=["publish", "read"])).post(URL, GOOD, format="json")
    assert response.status_code == 403
    assert not Subscriber.objects.exists()


def test_register_without_a_key_is_401(anon, loopback_allowed):
    assert anon.post(URL, GOOD, format="json").status_code == 401


def test_returned_key_is_a_read_key_bound_to_the_subscriber(api, loopback_allowed):
    answer = api.post(URL, GOOD, format="json").json()
    key = ApiKey.objects.get(subscriber_id="a")
    assert key.scopes == ["read"]
    assert answer["key"].startswith(key.prefix)


def test_returned_key_may_not_pull_every_event_or_publish(api, loopback_allowed, bearer):
    subscriber = bearer(api.post(URL, GOOD, format="json").json()["key"])
    events = subscriber.get("/ess/events")
    publish = subscriber.post("/ess/publish", {"topic": "a.b", "data": {}}, format="json")
    assert (events.status_code, publish.status_code) == (403, 403)
    assert "subscriber key" in events.json()["error"]


def test_returned_key_sees_only_its_own_status(api, loopback_allowed, bearer):
    api.post(URL, {**GOOD, "id": "other"}, format="json")
    subscriber = bearer(api.post(URL, GOOD, format="json").json()["key"])
    status = subscriber.get("/ess/status")
    assert status.status_code == 200
    assert [row["id"] for row in status.json()["subscribers"]] == [GOOD["id"]]
