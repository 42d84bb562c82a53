"""Public identifiers: a prefix plus a ULID (time-ordered, 128 bits).

Time-ordered ids keep the unique index on events append-friendly; the random
80 bits make them unguessable and unique across databases.
"""

import os
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid() -> str:
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def event_uid() -> str:
    return "evt_" + ulid()


def delivery_uid() -> str:
    return "msg_" + ulid()
