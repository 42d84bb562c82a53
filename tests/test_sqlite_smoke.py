"""The embedded default keeps working: the hub booted on SQLite as a user would.

A temporary SQLite file, `manage.py migrate`, the Procfile's `web` and `worker`
commands as subprocesses, a key from `manage.py ess key create`, a subscriber
registered over the API, one event published over the API, and the signed
webhook arriving at a real HTTPS receiver. Uses no pytest-django database:
everything goes through the subprocesses' own SQLite file.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from standardwebhooks.webhooks import Webhook

from tests.fixtures.processes import ROOT, Proc, free_port

DELIVERY_DEADLINE_SECONDS = 30


def procfile_commands() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if line.strip() and not line.startswith("#"))


@pytest.fixture
def sqlite_env(tmp_path, tls_ca):
    """The environment of a user's shell: hub.settings, an SQLite file, a free port."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    subscribers_dir = tmp_path / "subscribers"
    subscribers_dir.mkdir()
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'hub.sqlite3'}",
        SECRET_KEY="smoke-test-secret-key",
        ESS_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ESS_CA_BUNDLE=tls_ca.pem_path,
        ESS_ALLOW_PRIVATE_NETWORKS="127.0.0.0/8",
        ESS_SUBSCRIBERS_DIR=str(subscribers_dir),
        DEBUG="0",
        BIND="127.0.0.1",
        PORT=str(free_port()),
        WEB_CONCURRENCY="2",
        PYTHONUNBUFFERED="1",
        # The Procfile's `gunicorn` and `python` must be this virtualenv's.
        PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
    )
    return env


def manage(env: dict, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture
def hub_on_sqlite(sqlite_env, tmp_path):
    """Migrate, then start the Procfile's web and worker; yields the web base URL."""
    manage(sqlite_env, "migrate", "--noinput")
    commands = procfile_commands()
    procs = [
        Proc(["/bin/sh", "-c", commands[name]], sqlite_env, tmp_path / f"{name}.log") for name in ("web", "worker")
    ]
    base = f"http://127.0.0.1:{sqlite_env['PORT']}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                # The first start of a fresh clone compiles every module: allow a slow first answer.
                if requests.get(base + "/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or procs[0].popen.poll() is not None:
                raise AssertionError("web did not start:\n" + procs[0].output())
            time.sleep(0.2)
        yield base, procs
    finally:
        for proc in procs:
            proc.stop()


@pytest.mark.sqlite
def test_event_published_on_sqlite_reaches_a_signed_webhook(sqlite_env, hub_on_sqlite, https_receiver):
    base, procs = hub_on_sqlite
    key = manage(sqlite_env, "ess", "key", "create", "--name", "smoke", "--scopes", "publish,register,read")
    token = key.strip().splitlines()[-1].split()[-1]
    auth = {"Authorization": f"Bearer {token}"}

    registered = requests.post(
        base + "/ess/register",
        json={"id": "smoke", "url": https_receiver.url, "topics": ["smoke.#"]},
        headers=auth,
        timeout=10,
    )
    assert registered.status_code == 201, registered.text
    published = requests.post(
        base + "/ess/publish", json={"topic": "smoke.check", "data": {"n": 1}}, headers=auth, timeout=10
    )
    assert published.status_code == 202, published.text
    event = published.json()

    try:
        (request,) = https_receiver.wait_for(1, timeout=DELIVERY_DEADLINE_SECONDS)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nworker log:\n{procs[1].output()}") from None
    assert json.loads(request.body) == {
        "id": event["id"],
        "topic": "smoke.check",
        "cursor": event["cursor"],
        "ts": event["ts"],
        "channel": "live",
        "data": {"n": 1},
    }
    headers = {name.lower(): value for name, value in request.headers.items()}
    assert headers["x-ess-signature"].startswith("sha256=")
    Webhook(registered.json()["secret"]).verify(request.body, headers)
