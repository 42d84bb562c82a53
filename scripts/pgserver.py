"""Run a command against PostgreSQL: the server DATABASE_URL names, or a throwaway one.

`make test` runs `python scripts/pgserver.py -- pytest ...`. With DATABASE_URL set the
command simply runs. Without it, a private server is started from the local PostgreSQL
binaries (/usr/lib/postgresql/<version>/bin, or PG_BINDIR) in a temporary directory on a
free loopback port, the command runs with DATABASE_URL pointing at it, and the server and
its files are removed afterwards, whatever the outcome. The exit status is the command's.

Must never touch a server it did not start. It starts PostgreSQL the way
pytest-postgresql's PostgreSQLExecutor does (initdb, then `pg_ctl start -w`), but runs
both as the `postgres` system user when invoked as root: initdb refuses to run as root,
and CI runs as root, while the executor always runs them as the calling user.
"""

import argparse
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from glob import glob
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

DATABASE = "ess"
# A throwaway server never needs to survive a crash, so durability is traded for speed.
SERVER_OPTIONS = [
    "listen_addresses=127.0.0.1",
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=300",
]


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path)) or (0,)


def pg_bindir() -> Path:
    """The newest local PostgreSQL server binaries, or exit with what to install."""
    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"])
    candidates = sorted(glob("/usr/lib/postgresql/*/bin"), key=_version_key)
    if candidates:
        return Path(candidates[-1])
    if found := shutil.which("pg_ctl"):
        return Path(found).parent
    sys.exit(
        "pgserver: no PostgreSQL server binaries (initdb, pg_ctl) found in /usr/lib/postgresql/*/bin or on PATH.\n"
        "Install them (Debian/Ubuntu: apt-get install postgresql), set PG_BINDIR, or set DATABASE_URL."
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def masked(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


class ThrowawayServer:
    """One private PostgreSQL cluster in a temporary directory."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="ess-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self.started = False
        self.run_as = {}
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self.run_as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            cwd=self.root,
            capture_output=True,
            text=True,
            # Its own session: a Ctrl-C meant for the tests must not stop the server under them.
            start_new_session=True,
            **self.run_as,
        )

    def start(self) -> str:
        done = self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{done.stdout}{done.stderr}")
        for _ in range(3):  # the free port may be taken between the check and the start
            self.port = free_port()
            options = " ".join([f"-p {self.port}", f"-k {self.root}"] + [f"-c {o}" for o in SERVER_OPTIONS])
            done = self._run(
                "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start"
            )
            if done.returncode == 0:
                self.started = True
                break
        else:
            raise RuntimeError(f"PostgreSQL did not start:\n{self.log.read_text(errors='replace')}")
        done = self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", DATABASE)
        if done.returncode != 0:
            raise RuntimeError(f"createdb failed:\n{done.stderr}")
        return f"postgres://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def stop(self) -> None:
        if self.started:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def run_command(command: list[str], env: dict) -> int:
    """Run the command to its end; the server must outlive it.

    A Ctrl-C reaches the command from the terminal by itself, so we only wait. A
    SIGTERM sent to us (a CI time limit, a supervisor) reaches the command as SIGINT:
    pytest then tears its fixtures down and stops the worker processes it started,
    which SIGTERM would skip, leaving them behind in their own sessions.
    """
    child = subprocess.Popen(command, env=env)
    signal.signal(signal.SIGINT, lambda signum, frame: None)
    signal.signal(signal.SIGTERM, lambda signum, frame: child.send_signal(signal.SIGINT))
    code = child.wait()
    return 128 - code if code < 0 else code


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to run, after --")
    command = parser.parse_args(argv).command
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        parser.error("give the command to run after --")

    env = dict(os.environ)
    if env.get("DATABASE_URL"):
        print(f"pgserver: using DATABASE_URL={masked(env['DATABASE_URL'])}", flush=True)
        return run_command(command, env)

    server = ThrowawayServer(pg_bindir())
    try:
        env["DATABASE_URL"] = server.start()
        print(f"pgserver: throwaway PostgreSQL from {server.bindir} at {env['DATABASE_URL']}", flush=True)
        return run_command(command, env)
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
