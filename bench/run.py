"""End-to-end benchmark of the hub on PostgreSQL; prints a table and writes JSON.

    .venv/bin/python bench/run.py [--quick] [--json bench/results/latest.json]

It creates a fresh database (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/ess_bench; dropped and re-created), starts
the web server and one worker exactly as the Procfile does, and measures over
loopback only:
  publish/s (single events over HTTP, several client threads),
  events/s in batches of 1,000, deliveries/s to a local receiver (backlog
  drained by one worker), latency publish -> receiver at a steady 300/s, and
  the receiver hit directly by one pooled client thread (the raw ceiling).
Every loop is bounded in count and time and stops by itself.
"""

import argparse
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import requests
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.receiver import BenchReceiver  # noqa: E402

GOALS = {
    "publish_single_per_s": ">= 1000",
    "publish_batch_events_per_s": ">= 10000",
    "deliveries_per_s": ">= 1500",
    "latency_p50_ms_at_300": "<= 10",
    "latency_p99_ms_at_300": "<= 50",
    "publish_call_p50_ms_at_300": "(part of the latency)",
    "receiver_ceiling_per_s": "(reference)",
}


def recreate_database(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def procfile_command(name: str) -> str:
    """The Procfile's command for process `name`: the benchmark runs what production runs."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise SystemExit(f"no {name}: line in the Procfile")


class Hub:
    def __init__(self, database_url: str, port: int):
        self.env = dict(os.environ)
        self.env.update(
            PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
            PORT=str(port),
            DATABASE_URL=database_url,
            ESS_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
            SECRET_KEY="bench-only",
            ESS_ALLOW_HTTP_HOSTS="127.0.0.1",
            ESS_ALLOW_PRIVATE_NETWORKS="127.0.0.0/8",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            LOG_LEVEL="WARNING",
            DEBUG="0",
        )
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.procs: list[subprocess.Popen] = []
        self.worker: subprocess.Popen | None = None

    def manage(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, check=True, capture_output=True, text=True
        )
        return out.stdout

    def _spawn(self, args: list[str]) -> subprocess.Popen:
        proc = subprocess.Popen(
            args, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        self.procs.append(proc)
        return proc

    def start_web(self) -> None:
        self._spawn(["/bin/sh", "-c", procfile_command("web")])
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if requests.get(self.base + "/healthz", timeout=1).ok:
                    return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise SystemExit("web server did not start")

    def start_worker(self) -> None:
        self.worker = self._spawn(["/bin/sh", "-c", procfile_command("worker")])

    def stop_worker(self) -> None:
        if self.worker is not None:
            _stop(self.worker)
            self.worker = None

    def stop(self) -> None:
        for proc in self.procs:
            _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def publish_single(hub: Hub, key: str, *, threads: int, seconds: float, topic: str) -> float:
    counts = [0] * threads
    stop_at = time.time() + seconds

    def loop(index: int) -> None:
        session = requests.Session()
        headers = {"Authorization": f"Bearer {key}"}
        while time.time() < stop_at:
            reply = session.post(
                hub.base + "/ess/publish", json={"topic": topic, "data": {"n": index}}, headers=headers, timeout=10
            )
            if reply.status_code != 202:
                raise SystemExit(f"publish failed: {reply.status_code} {reply.text[:200]}")
            counts[index] += 1

    started = time.time()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.time() - started)


def publish_batches(hub: Hub, key: str, *, batches: int, topic: str, threads: int = 2) -> float:
    body = {"events": [{"topic": topic, "data": {"n": n, "payload": "x" * 64}} for n in range(1000)]}
    payload = json.dumps(body)
    per_thread = batches // threads

    def loop() -> None:
        session = requests.Session()
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        for _ in range(per_thread):
            reply = session.post(hub.base + "/ess/publish", data=payload, headers=headers, timeout=60)
            if reply.status_code != 202:
                raise SystemExit(f"batch publish failed: {reply.status_code} {reply.text[:200]}")

    started = time.time()
    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return per_thread * threads * 1000 / (time.time() - started)


def register(hub: Hub, key: str, sid: str, url: str, topics: list[str]) -> None:
    reply = requests.post(
        hub.base + "/ess/register",
        json={"id": sid, "url": url, "topics": topics},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    if reply.status_code != 201:
        raise SystemExit(f"register failed: {reply.status_code} {reply.text[:300]}")


def deliveries_per_second(hub: Hub, key: str, receiver: BenchReceiver, *, events: int) -> float:
    hub.stop_worker()
    receiver.reset()
    before = _latest_cursor(hub)
    publish_batches(hub, key, batches=events // 1000, topic="bench.drain", threads=1)
    hub.start_worker()
    if not receiver.wait_for(events, timeout=events / 100 + 60):
        raise SystemExit(f"only {len(receiver.arrivals)} of {events} deliveries arrived")
    times = sorted(t for cursor, t in receiver.arrivals.items() if cursor > before)
    return (len(times) - 1) / (times[-1] - times[0])


def _latest_cursor(hub: Hub) -> int:
    with psycopg.connect(hub.env["DATABASE_URL"]) as conn:
        return conn.execute("SELECT COALESCE(MAX(id), 0) FROM ess_event").fetchone()[0]


def _paced_publisher(base: str, key: str, schedule: list[tuple[int, float]], conn) -> None:
    """One publishing process: posts event n at its due time; sends back (cursor, began, answered) rows."""
    session = requests.Session()
    headers = {"Authorization": f"Bearer {key}"}
    rows = []
    for n, due in schedule:
        pause = due - time.time()
        if pause > 0:
            time.sleep(pause)
        began = time.time()
        reply = session.post(base + "/ess/publish", json={"topic": "bench.latency", "data": {"n": n}}, headers=headers)
        rows.append((reply.json()["cursor"], began, time.time()))
    conn.send(rows)


def latency_at_rate(hub: Hub, key: str, receiver: BenchReceiver, *, rate: int, seconds: float) -> tuple[float, ...]:
    """Publish at a steady `rate` from a few processes (no shared GIL skewing the clock readings)."""
    receiver.reset()
    total = int(rate * seconds)
    processes = 3
    start = time.time() + 0.5
    context = multiprocessing.get_context("fork")
    pipes, children = [], []
    for index in range(processes):
        schedule = [(n, start + n / rate) for n in range(index, total, processes)]
        ours, theirs = context.Pipe()
        child = context.Process(target=_paced_publisher, args=(hub.base, key, schedule, theirs))
        child.start()
        pipes.append(ours)
        children.append(child)
    rows = [row for pipe in pipes for row in pipe.recv()]
    for child in children:
        child.join()
    receiver.wait_for(len(rows), timeout=30)
    arrivals = receiver.arrivals
    latencies = sorted((arrivals[cursor] - began) * 1000 for cursor, began, _ in rows if cursor in arrivals)
    if len(latencies) < len(rows):
        raise SystemExit(f"only {len(latencies)} of {len(rows)} latency events arrived")
    publish_ms = sorted((answered - began) * 1000 for _, began, answered in rows)
    return _p(latencies, 0.5), _p(latencies, 0.99), _p(publish_ms, 0.5)


def _p(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def receiver_ceiling(receiver: BenchReceiver, *, seconds: float) -> float:
    session = requests.Session()
    body = json.dumps({"id": "evt_x", "topic": "bench.ceiling", "cursor": 0, "data": {"n": 1}})
    count = 0
    stop_at = time.time() + seconds
    started = time.time()
    while time.time() < stop_at:
        session.post(receiver.url, data=body, headers={"Content-Type": "application/json"})
        count += 1
    return count / (time.time() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter runs (figures are noisier)")
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "latest.json"))
    parser.add_argument("--only", choices=["publish"], help="run only the publish measures")
    args = parser.parse_args()
    scale = 0.3 if args.quick else 1.0

    database_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ess_bench")
    recreate_database(database_url)
    hub = Hub(database_url, port=int(os.environ.get("BENCH_PORT", "8765")))
    receiver = BenchReceiver()
    results: dict[str, float] = {}
    try:
        hub.manage("migrate", "-v0")
        key = hub.manage("ess", "key", "create", "--name", "bench", "--scopes", "publish,register,read").split()[-1]
        hub.start_web()
        results["publish_single_per_s"] = publish_single(hub, key, threads=8, seconds=10 * scale, topic="bench.nobody")
        results["publish_batch_events_per_s"] = publish_batches(
            hub, key, batches=max(2, int(40 * scale)), topic="bench.nobody"
        )
        if args.only == "publish":
            return _report(results, args)
        register(hub, key, "bench-receiver", receiver.url, ["bench.drain", "bench.latency"])
        results["deliveries_per_s"] = deliveries_per_second(
            hub, key, receiver, events=int(20_000 * scale) // 1000 * 1000
        )
        time.sleep(1)
        p50, p99, publish_p50 = latency_at_rate(hub, key, receiver, rate=300, seconds=10 * scale)
        results["latency_p50_ms_at_300"] = p50
        results["latency_p99_ms_at_300"] = p99
        results["publish_call_p50_ms_at_300"] = publish_p50
        results["receiver_ceiling_per_s"] = receiver_ceiling(receiver, seconds=5 * scale)
    finally:
        hub.stop()
        receiver.close()
    _report(results, args)


def _report(results: dict, args) -> None:
    print(f"{'measure':<30} {'result':>12}  goal")
    for name, value in results.items():
        print(f"{name:<30} {value:>12.1f}  {GOALS[name]}")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"results": results, "goals": GOALS, "quick": args.quick}, indent=2))
    print(f"written {out}")


if __name__ == "__main__":
    main()
