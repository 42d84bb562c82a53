"""Wake the dispatcher at once when publishing commits deliveries (PostgreSQL LISTEN).

A helper thread with its own autocommit connection; when it is down the
dispatcher still polls, so a lost notification only delays, never loses.
Must never do anything but set the wake-up event.
"""

import logging
import threading

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from hub.services.events import NOTIFY_CHANNEL

log = logging.getLogger("hub.dispatch")


class NotifyListener(threading.Thread):
    def __init__(self, *, wake: threading.Event, stopping: threading.Event):
        super().__init__(name="ess-listen", daemon=True)
        self.wake = wake
        self.stopping = stopping

    def run(self) -> None:
        import psycopg

        while not self.stopping.is_set():
            database = connections.create_connection(DEFAULT_DB_ALIAS)  # ours alone, never shared
            try:
                database.ensure_connection()
                listening = database.connection
                listening.autocommit = True
                listening.execute(f"LISTEN {NOTIFY_CHANNEL}")
                self.wake.set()  # whatever was published while nobody listened
                while not self.stopping.is_set():
                    for _ in listening.notifies(timeout=1.0):
                        self.wake.set()
            except (DatabaseError, psycopg.Error) as exc:
                log.warning("LISTEN %s failed (%s); polling until it is back", NOTIFY_CHANNEL, exc)
                self.stopping.wait(1.0)
            finally:
                try:
                    database.close()
                except (DatabaseError, psycopg.Error):
                    pass
