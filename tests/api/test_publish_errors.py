"""POST /ess/publish refuses bad input with the right 4xx, a JSON error, and nothing stored."""

import json

import pytest

from hub.models import Event

URL = "/ess/publish"


def _event(**overrides):
    return {"topic": "drug.copay", "data": {"ndc": "00002-8215"}, **overrides}


def _raw(body: str) -> bytes:
    return body.encode("utf-8")


DEEP = '{"topic": "a.b", "data": ' + "[" * 100_000 + "]" * 100_000 + "}"
BAD_BODIES = {
    "not json": (_raw("{not json"), 400),
    "json array": (_raw("[]"), 400),
    "json string": (_raw('"drug.copay"'), 400),
    "missing data": (json.dumps({"topic": "drug.copay"}), 400),
    "data is a list": (json.dumps(_event(data=[1, 2])), 400),
    "data is a string": (json.dumps(_event(data="x")), 400),
    "data is null": (json.dumps(_event(data=None)), 400),
    "missing topic": (json.dumps({"data": {}}), 400),
    "topic not a string": (json.dumps(_event(topic=5)), 400),
    "topic with *": (json.dumps(_event(topic="drug.*")), 400),
    "topic with #": (json.dumps(_event(topic="drug.#")), 400),
    "17 words": (json.dumps(_event(topic=".".join(["w"] * 17))), 400),
    "201 characters": (json.dumps(_event(topic="a" * 201)), 400),
    "upper case": (json.dumps(_event(topic="Drug.copay")), 400),
    "empty word": (json.dumps(_event(topic="drug..copay")), 400),
    "empty topic": (json.dumps(_event(topic="")), 400),
    "empty batch": (json.dumps({"events": []}), 400),
    "1001 events": (json.dumps({"events": [_event()] * 1001}), 400),
    "events not a list": (json.dumps({"events": {"topic": "a"}}), 400),
    "batch with another field": (json.dumps({"events": [_event()], "topic": "a"}), 400),
    "data over 262144 bytes": (json.dumps(_event(data={"x": "a" * 262_144})), 413),
    "NUL in data": (json.dumps(_event(data={"x": "a\u0000b"})), 400),
    "NUL in a key": (json.dumps(_event(data={"a\u0000": 1})), 400),
    "lone surrogate": (_raw('{"topic": "a.b", "data": {"x": "\\ud800"}}'), 400),
    "nesting 100000 deep": (_raw(DEEP), 400),
    "NaN": (_raw('{"topic": "a.b", "data": {"x": NaN}}'), 400),
    "Infinity": (_raw('{"topic": "a.b", "data": {"x": -Infinity}}'), 400),
    "number overflowing to infinity": (_raw('{"topic": "a.b", "data": {"x": 1e400}}'), 400),
    "integer of 5000 digits": (_raw('{"topic": "a.b", "data": {"x": ' + "9" * 5000 + "}}"), 400),
    "not UTF-8": (b'{"topic": "a.b", "data": {"x": "\xff"}}', 400),
    "unknown field": (json.dumps(_event(priority="high")), 400),
    "bad channel": (json.dumps(_event(channel="prod")), 400),
    "idempotency_key not a string": (json.dumps(_event(idempotency_key=7)), 400),
    "idempotency_key of 201 characters": (json.dumps(_event(idempotency_key="k" * 201)), 400),
}


@pytest.mark.parametrize("case", BAD_BODIES)
def test_bad_body_is_a_json_4xx_and_stores_nothing(api, case):
    body, expected = BAD_BODIES[case]
    response = api.post(URL, data=body, content_type="application/json")
    assert response.status_code == expected, response.content
    assert set(response.json()) == {"error", "detail"}
    assert Event.objects.count() == 0


def test_bad_item_at_index_3_names_it_and_stores_nothing(api):
    events = [_event(), _event(), _event(), _event(topic="Bad.Topic"), _event()]
    response = api.post(URL, {"events": events}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert "events[3]" in body["error"]
    assert body["detail"]["index"] == 3
    assert "topic" in body["detail"]["errors"]
    assert Event.objects.count() == 0


def test_oversized_data_inside_a_batch_refuses_the_whole_batch(api):
    events = [_event(), _event(data={"x": "a" * 262_144}), _event()]
    response = api.post(URL, {"events": events}, format="json")
    assert response.status_code == 413
    assert response.json()["detail"]["index"] == 1
    assert Event.objects.count() == 0


def test_data_of_exactly_262144_bytes_is_accepted(api):
    # {"x":"..."} serialized compactly: 8 bytes of syntax around the string.
    response = api.post(URL, _event(data={"x": "a" * (262_144 - 8)}), format="json")
    assert response.status_code == 202


def test_wrong_content_type_is_415(api):
    response = api.post(URL, data="topic=drug.copay", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert set(response.json()) == {"error", "detail"}
    assert Event.objects.count() == 0


def test_text_plain_json_is_415(api):
    response = api.post(URL, data=json.dumps(_event()), content_type="text/plain")
    assert response.status_code == 415
    assert Event.objects.count() == 0


def test_body_over_the_upload_limit_is_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api.post(URL, data=json.dumps(_event(data={"x": "a" * 2000})), content_type="application/json")
    assert response.status_code == 413
    assert set(response.json()) == {"error", "detail"}
    assert Event.objects.count() == 0


def test_bad_x_channel_header_is_400(api):
    response = api.post(URL, _event(), format="json", HTTP_X_CHANNEL="staging")
    assert response.status_code == 400
    assert response.json()["detail"] == {"X-Channel": "staging"}
    assert Event.objects.count() == 0
