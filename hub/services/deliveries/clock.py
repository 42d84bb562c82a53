"""Database time for the delivery policy, without a round trip each time it is read.

Whether a delivery is due and when a throttle slot starts are decided on the
database's clock, which every worker on every machine shares, never on a
worker's wall clock.
"""

import time
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

CLOCK_REFRESH_SECONDS = 10.0


class _DatabaseClock:
    """Database time without a round trip each time it is read.

    The database's clock is read now and then, paired with time.monotonic();
    in between, database time is that reading plus the monotonic time passed.
    The error is half a round trip plus the clocks' drift over
    CLOCK_REFRESH_SECONDS (about a millisecond); the worker's wall clock plays no part.
    """

    def __init__(self):
        self._reading: tuple[datetime, float] | None = None

    def now(self) -> tuple[datetime, float]:
        clock = time.monotonic()
        if self._reading is None or clock - self._reading[1] > CLOCK_REFRESH_SECONDS:
            with connection.cursor() as cursor:
                cursor.execute("SELECT clock_timestamp()")
                at = cursor.fetchone()[0]
            after = time.monotonic()
            self._reading, clock = (at, (clock + after) / 2), after
        at, read_at = self._reading
        return at + timedelta(seconds=clock - read_at), clock


_database_clock = _DatabaseClock()


def database_now() -> tuple[datetime, float]:
    """Database time, and the time.monotonic() it corresponds to, to map one onto the other."""
    if connection.vendor == "postgresql":
        return _database_clock.now()
    return timezone.now(), time.monotonic()  # SQLite is a file on this machine: its clock is ours
