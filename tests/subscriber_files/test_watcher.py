"""The watcher in real workers (`manage.py qcluster`): files take effect within 5 seconds.

Real worker subprocesses against the test database, real HTTPS receivers on
loopback; events are published in the test process with hub.publish.
"""

import hashlib
import hmac
import re
import time
from textwrap import dedent

import pytest
from standardwebhooks import Webhook

import hub
from hub.models import Delivery, FileError, Subscriber
from hub.signing import generate_secret

TAKES_EFFECT_SECONDS = 5.0


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout:.1f}s: {what}")


def subscriber_file(sid: str, url: str, topics: list[str], extra: str = "") -> str:
    quoted = ", ".join(f'"{t}"' for t in topics)
    return f"id: {sid}\nurl: {url}\ntopics: [{quoted}]\n" + dedent(extra)


def topics_received(receiver, path: str) -> list[str]:
    return [r.headers["X-ESS-Topic"] for r in list(receiver.requests) if r.path == path]


@pytest.fixture
def folder(tmp_path):
    directory = tmp_path / "subscribers"
    directory.mkdir()
    return directory


@pytest.fixture
def start_hub(start_worker, folder):
    """Start a worker on `folder` and wait until its watcher is the active one."""

    def start(**env):
        worker = start_worker(ESS_SUBSCRIBERS_DIR=folder, **env)
        wait_until(lambda: "subscriber-file watcher active" in worker.output(), 60, "the watcher is active")
        return worker

    return start


@pytest.fixture
def warm(https_receiver):
    """Wait until a loaded subscriber is being delivered to: the dispatcher is up."""

    def warm(topic: str, path: str):
        wait_until(lambda: Subscriber.objects.filter(url=https_receiver.base_url + path).exists(), 30, "loaded")
        count = len(topics_received(https_receiver, path))
        hub.publish(topic, {"warm": True})
        wait_until(lambda: len(topics_received(https_receiver, path)) > count, 30, "the first delivery")

    return warm


def test_new_file_delivers_within_5_seconds(start_hub, folder, https_receiver, warm):
    (folder / "warm.yml").write_text(subscriber_file("warm", https_receiver.base_url + "/warm", ["warm.up"]))
    start_hub()
    warm("warm.up", "/warm")

    (folder / "md.yml").write_text(subscriber_file("md-mm1", https_receiver.base_url + "/md", ["drug.copay"]))
    written = time.monotonic()
    wait_until(lambda: Subscriber.objects.filter(id="md-mm1").exists(), TAKES_EFFECT_SECONDS, "the row")
    hub.publish("drug.copay", {"ndc": "00002-8215", "copay": 25})
    left = TAKES_EFFECT_SECONDS - (time.monotonic() - written)
    wait_until(lambda: topics_received(https_receiver, "/md"), left, "delivery to the new subscriber")


def test_topics_edit_takes_effect_within_5_seconds(start_hub, folder, https_receiver, warm):
    path = folder / "md.yml"
    path.write_text(subscriber_file("md-mm1", https_receiver.base_url + "/md", ["drug.copay"]))
    start_hub()
    warm("drug.copay", "/md")

    path.write_text(subscriber_file("md-mm1", https_receiver.base_url + "/md", ["appointment.*"]))
    written = time.monotonic()
    wait_until(
        lambda: Subscriber.objects.get(id="md-mm1").topics == ["appointment.*"], TAKES_EFFECT_SECONDS, "new topics"
    )
    old = hub.publish("drug.copay", {"copay": 30})
    hub.publish("appointment.cancelled", {"id": 7})
    left = TAKES_EFFECT_SECONDS - (time.monotonic() - written)
    wait_until(lambda: "appointment.cancelled" in topics_received(https_receiver, "/md"), left, "the new topic")
    assert not Delivery.objects.filter(event=old, subscriber_id="md-mm1").exists()
    assert topics_received(https_receiver, "/md") == ["drug.copay", "appointment.cancelled"]


def test_deleted_file_stops_deliveries_and_shows_disabled(start_hub, folder, https_receiver, warm, api):
    path = folder / "md.yml"
    path.write_text(subscriber_file("md-mm1", https_receiver.base_url + "/md", ["drug.copay"]))
    start_hub()
    warm("drug.copay", "/md")

    path.unlink()
    wait_until(lambda: Subscriber.objects.get(id="md-mm1").state == "disabled", TAKES_EFFECT_SECONDS, "disabled state")
    event = hub.publish("drug.copay", {"copay": 30})
    assert not Delivery.objects.filter(event=event, subscriber_id="md-mm1").exists()
    status = api.get("/ess/status").json()
    assert {s["id"]: s["state"] for s in status["subscribers"]}["md-mm1"] == "disabled"
    assert Delivery.objects.filter(subscriber_id="md-mm1").count() == 1  # history stays
    assert topics_received(https_receiver, "/md") == ["drug.copay"]


def test_broken_edit_keeps_the_last_good_version_across_a_restart(start_hub, folder, https_receiver, warm, api):
    path = folder / "md.yml"
    path.write_text(subscriber_file("md-mm1", https_receiver.base_url + "/md", ["drug.copay"]))
    worker = start_hub()
    warm("drug.copay", "/md")

    # Line 4 is the offending key; the topics change above it must not apply either.
    path.write_text(subscriber_file("md-mm1", https_receiver.base_url + "/md", ["appointment.*"], "colour: blue\n"))
    wait_until(lambda: FileError.objects.filter(file="md.yml").exists(), TAKES_EFFECT_SECONDS, "the file error")
    expected = {"file": "md.yml", "line": 4, "error": "colour: unknown field"}
    assert api.get("/ess/status").json()["file_errors"] == [expected]
    assert "md.yml:4" in worker.output()

    worker.stop()
    start_hub()
    hub.publish("drug.copay", {"copay": 31})
    wait_until(lambda: len(topics_received(https_receiver, "/md")) == 2, 30, "delivery after the restart")
    assert Subscriber.objects.get(id="md-mm1").topics == ["drug.copay"]
    assert api.get("/ess/status").json()["file_errors"] == [expected]


def test_secret_env_signs_with_the_workers_environment(start_hub, folder, https_receiver):
    secret = generate_secret()
    extra = "secret_env: MD_MM1_SIGNING_SECRET\n"
    (folder / "md.yml").write_text(subscriber_file("md-mm1", https_receiver.base_url + "/md", ["drug.copay"], extra))
    start_hub(MD_MM1_SIGNING_SECRET=secret)
    wait_until(lambda: Subscriber.objects.filter(id="md-mm1").exists(), 30, "loaded")
    hub.publish("drug.copay", {"copay": 25})

    request = https_receiver.wait_for(1, timeout=30)[0]
    Webhook(secret).verify(request.body, request.headers)  # raises when the signature does not match
    expected = hmac.new(Webhook(secret)._whsecret, request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-ESS-Signature"] == f"sha256={expected}"


def test_enabled_false_is_paused_and_receives_nothing(start_hub, folder, https_receiver, warm, api):
    (folder / "on.yml").write_text(subscriber_file("md-on", https_receiver.base_url + "/on", ["drug.copay"]))
    off = subscriber_file("md-off", https_receiver.base_url + "/off", ["drug.copay"], "enabled: false\n")
    (folder / "off.yml").write_text(off)
    start_hub()
    warm("drug.copay", "/on")
    hub.publish("drug.copay", {"copay": 26})
    wait_until(lambda: len(topics_received(https_receiver, "/on")) == 2, 30, "the second delivery")

    assert topics_received(https_receiver, "/off") == []
    assert Delivery.objects.filter(subscriber_id="md-off", status="pending").count() == 2
    states = {s["id"]: s["state"] for s in api.get("/ess/status").json()["subscribers"]}
    assert states["md-off"] == "paused"


def _loads(workers, sid: str) -> int:
    return sum(len(re.findall(rf"subscriber {re.escape(sid)} loaded from", w.output())) for w in workers)


def test_two_workers_apply_a_change_once(start_worker, folder, https_receiver):
    workers = [start_worker(ESS_SUBSCRIBERS_DIR=folder) for _ in range(2)]
    wait_until(lambda: all("subscriber-file watcher" in w.output() for w in workers), 60, "both watchers started")
    active = [w for w in workers if "subscriber-file watcher active" in w.output()]
    assert len(active) == 1
    assert "standing by" in next(w for w in workers if w is not active[0]).output()

    (folder / "md.yml").write_text(subscriber_file("md-mm1", https_receiver.base_url + "/md", ["drug.copay"]))
    wait_until(lambda: Subscriber.objects.filter(id="md-mm1").exists(), TAKES_EFFECT_SECONDS, "the row")
    time.sleep(2.5)  # a second watcher, if there were one, would have applied it by now
    assert _loads(workers, "md-mm1") == 1
    for worker in workers:
        assert not re.search(r"(WARNING|ERROR) hub\.subscriber_files", worker.output())


def test_standby_watcher_takes_over_when_the_active_worker_stops(start_worker, folder, https_receiver):
    first = start_worker(ESS_SUBSCRIBERS_DIR=folder)
    wait_until(lambda: "subscriber-file watcher active" in first.output(), 60, "the first watcher is active")
    second = start_worker(ESS_SUBSCRIBERS_DIR=folder)
    wait_until(lambda: "standing by" in second.output(), 60, "the second watcher stands by")

    first.stop()
    wait_until(lambda: "subscriber-file watcher active" in second.output(), 10, "the second watcher takes over")
    (folder / "md.yml").write_text(subscriber_file("md-mm1", https_receiver.base_url + "/md", ["drug.copay"]))
    wait_until(lambda: Subscriber.objects.filter(id="md-mm1").exists(), TAKES_EFFECT_SECONDS, "the row")
