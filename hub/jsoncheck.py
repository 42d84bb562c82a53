"""Checks on decoded JSON that PostgreSQL and receivers need: no NUL
characters, no lone surrogates, no absurd nesting, no NaN or Infinity.

Used on event data and on every subscriber setting, so bad input is a 400,
never a database error.
"""

import math

from django.conf import settings

from hub.exceptions import InvalidInput


def check_json_value(data, *, path: str = "data") -> None:
    """Refuse what PostgreSQL cannot store or receivers cannot parse.

    NUL characters and lone surrogates in strings or keys, and nesting deeper
    than ESS_MAX_JSON_DEPTH. Iterative, so deep input cannot blow the stack.
    """
    max_depth = settings.ESS_MAX_JSON_DEPTH
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > max_depth:
            raise InvalidInput(f"{path} is nested deeper than {max_depth} levels")
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str):
                    _check_string(key, path)
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            _check_string(value, path)
        elif isinstance(value, float) and not math.isfinite(value):
            raise InvalidInput(f"{path} holds {value}, which is not a JSON number")


def _check_string(value: str, path: str) -> None:
    if "\x00" in value:
        raise InvalidInput(f"{path} contains a NUL character (\\u0000), which cannot be stored")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{path} contains a lone UTF-16 surrogate, which is not valid Unicode") from None
