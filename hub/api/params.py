"""Query-string parameters of the API: bad values are a 400 naming the parameter, never a 500."""

import re
from datetime import datetime

from hub.exceptions import InvalidInput
from hub.models import Channel

MAX_CURSOR = 2**63 - 1
# RFC 3339 date-time: a time zone is required ("Z" or an offset).
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
# An unencoded "+" in a query string arrives as a space: "...T10:00:00 01:00".
_SPACE_OFFSET = re.compile(r"(?<=\d) (\d{2}:\d{2})$")


def int_param(params, name: str, *, default: int, minimum: int, maximum: int = MAX_CURSOR) -> int:
    """An integer parameter; values above `maximum` are refused too (PostgreSQL bigint ends there)."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"[+-]?\d{1,19}", raw.strip()):
        raise InvalidInput(f"{name} must be an integer", {name: raw})
    value = int(raw)
    if not minimum <= value <= maximum:
        raise InvalidInput(f"{name} must be from {minimum} to {maximum}", {name: raw})
    return value


def limit_param(params, *, default: int = 100, cap: int = 1000) -> int:
    """`limit`: 1 or more; larger than `cap` is capped, not refused (SPEC §4)."""
    return min(int_param(params, "limit", default=default, minimum=1), cap)


def rfc3339_param(params, name: str) -> datetime | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    text = _SPACE_OFFSET.sub(r"+\1", raw.strip())
    if not _RFC3339.fullmatch(text):
        raise InvalidInput(
            f"{name} must be an RFC 3339 date-time with a time zone, e.g. 2024-05-07T14:03:11Z", {name: raw}
        )
    try:
        # fromisoformat takes at most microseconds; finer digits are cut, not refused.
        text = re.sub(r"(\.\d{6})\d+", r"\1", text)
        return datetime.fromisoformat(text.replace("z", "Z").replace("t", "T"))
    except ValueError as exc:
        raise InvalidInput(f"{name} is not a valid date-time: {exc}", {name: raw}) from None


def channel_param(params) -> str:
    value = params.get("channel") or Channel.LIVE
    if value not in Channel.values:
        raise InvalidInput("channel must be 'live' or 'test'", {"channel": value})
    return value
