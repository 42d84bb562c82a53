"""The subscriber-file watcher: keeps the database in step with ESS_SUBSCRIBERS_DIR (SPEC §6).

Every worker starts one (hub/management/commands/qcluster.py), but only the one
holding the watcher lock acts: a PostgreSQL session advisory lock, or a file
lock beside an SQLite database; the others try again every second and take
over when the active one dies. Must never send anything or keep subscriber
settings in memory: the dispatchers read the rows at claim time, so writing
the row is what makes a change take effect.
"""

import fcntl
import hashlib
import logging
import os
import signal
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections

from hub.subscriber_files.parse import subscriber_file_paths
from hub.subscriber_files.sync import subscriber_files_sync

log = logging.getLogger("hub.subscriber_files")

POLL_SECONDS = 1.0
WATCHER_LOCK_KEY = 0x455353_5F574154  # "ESS_WAT", a session advisory lock


class PostgresWatcherLock:
    """A session advisory lock on a connection of its own: held while that session lives."""

    def __init__(self):
        self._connection = None

    def acquire(self) -> bool:
        try:
            if self._connection is None:
                self._connection = connections["default"].copy()
            with self._connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [WATCHER_LOCK_KEY])
                return bool(cursor.fetchone()[0])
        except DatabaseError as exc:
            log.warning("watcher lock not available: %s", exc)
            self.release()
            return False

    def held(self) -> bool:
        """Whether the session (and so the lock) is still alive."""
        if self._connection is None:
            return False
        try:
            with self._connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            return True
        except DatabaseError:
            self.release()
            return False

    def release(self) -> None:
        """Ending the session releases the lock, also when the server already ended it."""
        if self._connection is not None:
            try:
                self._connection.close()
            except DatabaseError:
                pass
            self._connection = None


class FileWatcherLock:
    """flock on a file beside the SQLite database: one watcher per machine, as SQLite is local."""

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


def watcher_lock() -> PostgresWatcherLock | FileWatcherLock:
    if connections["default"].vendor == "postgresql":
        return PostgresWatcherLock()
    name = str(settings.DATABASES["default"]["NAME"])
    if name.startswith(":memory:") or name.startswith("file:"):
        return FileWatcherLock(Path(tempfile.gettempdir()) / "ess-subscriber-watcher.lock")
    return FileWatcherLock(Path(f"{name}-ess-watcher.lock"))


def folder_snapshot(directory: Path) -> dict[str, str] | None:
    """Each subscriber file's content digest, or None when the folder is missing.

    Contents, not modification times: an edit within one timestamp tick that
    keeps the size would otherwise go unseen. The files are small.
    """
    try:
        paths = subscriber_file_paths(directory)
    except OSError:
        return None
    snapshot = {}
    for path in paths:
        try:
            snapshot[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            snapshot[path.name] = f"unreadable: {exc.errno}"
    return snapshot


class StopFlag:
    """Set from a signal handler: a plain attribute, as taking a lock there (threading.Event) can deadlock."""

    def __init__(self):
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set

    def wait(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._set and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.1))


def _watch(directory: Path, lock, stop: StopFlag, poll_seconds: float) -> None:
    """Apply the folder now, then each change once it has held still for one poll.

    Waiting one poll keeps a file caught half-written from being applied; it
    costs at most a second. Returns when the lock is lost or on stop.
    """
    applied: dict[str, str] | None = None
    previous: dict[str, str] | None = None
    first = True
    while not stop.is_set():
        if not lock.held():
            log.warning("subscriber-file watcher lost its lock; standing by")
            return
        snapshot = folder_snapshot(directory)
        if first or (snapshot != applied and snapshot == previous):
            try:
                close_old_connections()
                report = subscriber_files_sync(directory=directory)
                if report.missing_directory and (first or applied is not None):
                    log.warning("subscriber folder %s does not exist; file subscribers left as they are", directory)
                elif first:
                    log.info(
                        "subscriber files: %d loaded, %d unchanged, %d disabled, %d with errors",
                        len(report.loaded),
                        len(report.unchanged),
                        len(report.disabled),
                        len(report.problems),
                    )
                applied, first = snapshot, False
            except Exception:
                # The database may be restarting: keep the last applied state and try again next poll.
                log.exception("subscriber files in %s not applied; trying again", directory)
                close_old_connections()
        previous = snapshot
        stop.wait(poll_seconds)


def run(*, directory: Path | None = None, poll_seconds: float = POLL_SECONDS) -> None:
    """The watcher process's loop: stand by until the lock is ours, then watch; ends on SIGTERM/SIGINT."""
    stop = StopFlag()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    directory = Path(directory or settings.ESS_SUBSCRIBERS_DIR)
    lock = watcher_lock()
    standing_by = False
    try:
        while not stop.is_set():
            if lock.acquire():
                log.info("subscriber-file watcher active on %s", directory)
                standing_by = False
                _watch(directory, lock, stop, poll_seconds)
                if not stop.is_set():
                    lock.release()
            else:
                if not standing_by:
                    log.info("subscriber-file watcher standing by: another one is active")
                    standing_by = True
                stop.wait(1.0)
    finally:
        lock.release()
        connections.close_all()
