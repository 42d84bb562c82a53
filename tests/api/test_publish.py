"""POST /ess/publish: who may publish (401 before 403), the test channel, idempotency."""

from hub.models import Event

URL = "/ess/publish"
EVENT = {"topic": "drug.copay", "data": {"ndc": "00002-8215", "copay": 25}}


def test_no_key_is_401_with_a_bearer_challenge(anon, db):
    response = anon.post(URL, EVENT, format="json")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert set(response.json()) == {"error", "detail"}


def test_wrong_key_is_401(bearer):
    response = bearer("ess_not-a-real-key").post(URL, EVENT, format="json")
    assert response.status_code == 401
    assert Event.objects.count() == 0


def test_revoked_key_is_401(make_key, bearer):
    from hub.models import ApiKey
    from hub.services.keys import api_key_revoke

    token = make_key(scopes=["publish"])
    api_key_revoke(key=ApiKey.objects.get())
    assert bearer(token).post(URL, EVENT, format="json").status_code == 401


def test_a_key_used_then_revoked_is_401_at_once_in_the_same_process(make_key, bearer):
    from hub.models import ApiKey
    from hub.services.keys import api_key_revoke

    token = make_key(scopes=["publish"])
    assert bearer(token).post(URL, EVENT, format="json").status_code == 202  # now cached
    api_key_revoke(key=ApiKey.objects.get())
    assert bearer(token).post(URL, EVENT, format="json").status_code == 401


def test_key_without_the_publish_scope_is_403(make_key, bearer):
    response = bearer(make_key(scopes=["read", "register"])).post(URL, EVENT, format="json")
    assert response.status_code == 403
    assert "publish" in response.json()["error"]
    assert Event.objects.count() == 0


def test_missing_key_is_401_even_with_a_malformed_body(anon, db):
    response = anon.post(URL, data="{broken", content_type="application/json")
    assert response.status_code == 401


def test_key_without_scope_is_403_even_with_a_malformed_body(make_key, bearer):
    response = bearer(make_key(scopes=["read"])).post(URL, data="{broken", content_type="application/json")
    assert response.status_code == 403


def test_publish_returns_202_with_the_event(api):
    response = api.post(URL, EVENT, format="json")
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"id", "topic", "cursor", "ts", "channel"}
    assert body["id"].startswith("evt_") and body["ts"].endswith("Z") and body["channel"] == "live"
    assert Event.objects.get().cursor == body["cursor"]


def test_x_channel_test_header_makes_every_event_a_test_event(api):
    batch = {"events": [EVENT, {**EVENT, "channel": "live"}]}
    response = api.post(URL, batch, format="json", HTTP_X_CHANNEL="test")
    assert response.status_code == 202
    assert [e["channel"] for e in response.json()["events"]] == ["test", "test"]
    assert set(Event.objects.values_list("channel", flat=True)) == {"test"}


def test_same_idempotency_key_returns_the_first_event_with_200_and_stores_nothing(api):
    first = api.post(URL, {**EVENT, "idempotency_key": "order-17"}, format="json")
    again = api.post(URL, {**EVENT, "data": {"other": True}, "idempotency_key": "order-17"}, format="json")
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json() == first.json()
    assert Event.objects.count() == 1


def test_same_idempotency_key_under_another_api_key_is_a_new_event(api, make_key, bearer):
    first = api.post(URL, {**EVENT, "idempotency_key": "order-17"}, format="json")
    other = bearer(make_key(scopes=["publish"], name="other")).post(
        URL, {**EVENT, "idempotency_key": "order-17"}, format="json"
    )
    assert other.status_code == 202
    assert other.json()["id"] != first.json()["id"]
    assert Event.objects.count() == 2
