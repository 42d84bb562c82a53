"""PII redaction (SPEC §5): delete dotted paths from an event's data.

One function for webhooks, replay and poll. Deletes, never masks, and never
logs what it removed.
"""

import copy

from django.conf import settings


def redaction_paths(subscriber_paths: list[str] | None) -> list[str]:
    """The subscriber's paths plus the global ESS_PII_FIELDS, without repeats."""
    paths = list(subscriber_paths or []) + list(settings.ESS_PII_FIELDS)
    return list(dict.fromkeys(path for path in paths if path))


def redact(data: dict, paths: list[str]) -> tuple[dict, bool]:
    """Return (data without `paths`, whether anything was removed); `data` is not changed.

    A path is dot-separated keys into nested objects (`patient.ssn`). Lists
    are walked element-wise, so `members.ssn` removes `ssn` from every member.
    """
    if not paths:
        return data, False
    result = copy.deepcopy(data)
    removed = False
    for path in paths:
        removed |= _delete(result, path.split("."))
    return result, removed


def _delete(node, keys: list[str]) -> bool:
    if isinstance(node, list):
        return any([_delete(item, keys) for item in node])
    if not isinstance(node, dict) or keys[0] not in node:
        return False
    if len(keys) == 1:
        del node[keys[0]]
        return True
    return _delete(node[keys[0]], keys[1:])
