"""One validation for subscriber settings, whichever way they arrive:
`POST /ess/register`, the admin form, or a subscriber file.

`subscriber_config_clean` returns the cleaned values or raises InvalidInput
whose detail maps each bad field to the reason a person needs.
"""

import re
from dataclasses import dataclass, field

from django.conf import settings

from hub.exceptions import InvalidInput
from hub.jsoncheck import check_json_value
from hub.topics import pattern_error
from hub.urlsafety import url_error

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
PATH_PATTERN = re.compile(r"[^.\s]+(\.[^.\s]+)*")
MAX_RETRIES_LIMIT = 50
MAX_RETRY_BASE_SECONDS = 3600.0

# Fields each source may send; anything else is an error.
API_FIELDS = {"id", "url", "topics", "throttle", "secret", "test_url", "max_retries", "retry_base_seconds", "redact"}
FILE_FIELDS = API_FIELDS | {"secret_env", "enabled", "connector", "target", "test_target", "schedule"}


@dataclass
class SubscriberConfig:
    id: str
    url: str = ""
    topics: list[str] = field(default_factory=list)
    throttle: int | None = None
    secret: str | None = None
    test_url: str = ""
    max_retries: int = 5
    retry_base_seconds: float = 30.0
    redact: list[str] = field(default_factory=list)
    enabled: bool = True
    connector: str = ""
    target: dict = field(default_factory=dict)
    test_target: dict = field(default_factory=dict)
    schedule: str = ""


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_target(value, name: str, errors: dict, *, resolve: bool) -> None:
    if not isinstance(value, dict) or not value:
        errors[name] = f"{name} must be a mapping (host, port, username, directory, ...)"
        return
    if "url" in value:
        if (reason := url_error(value["url"], resolve=resolve)) is not None:
            errors[name] = reason
        return
    for required in ("host", "username", "directory"):
        if not isinstance(value.get(required), str) or not value.get(required):
            errors[name] = f"{name}.{required} is required"
            return
    if "port" in value and not (_is_int(value["port"]) and 0 < value["port"] < 65536):
        errors[name] = f"{name}.port must be an integer from 1 to 65535"
    elif not any(value.get(key) for key in ("key_path", "key_env")):
        errors[name] = f"{name} needs key_path or key_env"
    elif not any(value.get(key) for key in ("known_hosts", "host_key")):
        errors[name] = f"{name} needs known_hosts or host_key: unknown host keys are refused"


def subscriber_config_clean(data: dict, *, allowed: set[str] = API_FIELDS, resolve: bool = True) -> SubscriberConfig:
    """Validate raw settings; `allowed` is the set of fields this source may use.

    `resolve=False` skips the DNS lookup of URLs (used where a check must not
    depend on the network, e.g. validating files offline).
    """
    if not isinstance(data, dict):
        raise InvalidInput("the subscriber must be a JSON object / YAML mapping")
    errors: dict[str, str] = {}
    for name in sorted(set(data) - allowed):
        errors[name] = "unknown field"
    for name, value in data.items():
        try:
            check_json_value(value, path=str(name))
        except InvalidInput as exc:
            errors[str(name)] = exc.message
    if errors:
        raise InvalidInput("invalid subscriber", errors)

    sid = data.get("id")
    if not isinstance(sid, str) or not ID_PATTERN.fullmatch(sid):
        errors["id"] = "id is required: 1 to 64 of letters, digits, ., _ and -, starting with a letter or digit"

    connector = data.get("connector", "")
    if connector and not (isinstance(connector, str) and ID_PATTERN.fullmatch(connector)):
        errors["connector"] = "connector must name a module in connectors/ (a-z, 0-9, _ and -)"
    if connector:
        if "url" in data:
            errors["url"] = "a connector subscriber has a target, not a url"
        if "target" not in data:
            errors["target"] = "a connector subscriber needs a target"
        else:
            _check_target(data["target"], "target", errors, resolve=resolve)
        if data.get("test_target") is not None:
            _check_target(data["test_target"], "test_target", errors, resolve=resolve)
    else:
        if "url" not in data:
            errors["url"] = "url is required"
        elif (reason := url_error(data["url"], resolve=resolve)) is not None:
            errors["url"] = reason
        for name in ("target", "test_target", "schedule"):
            if name in data:
                errors[name] = f"{name} is only for connector subscribers"

    topics = data.get("topics")
    if topics is None and not connector:
        errors["topics"] = "topics is required: a list of topic patterns"
    elif topics is not None:
        if not isinstance(topics, list) or not topics:
            errors["topics"] = "topics must be a non-empty list of topic patterns"
        else:
            for pattern in topics:
                if (reason := pattern_error(pattern)) is not None:
                    errors["topics"] = reason
                    break

    throttle = data.get("throttle")
    if throttle is not None and not (_is_int(throttle) and throttle >= 1):
        errors["throttle"] = "throttle must be a whole number of deliveries per second, at least 1"

    secret = data.get("secret")
    if secret is not None and not (isinstance(secret, str) and 1 <= len(secret) <= 500):
        errors["secret"] = "secret must be a string of 1 to 500 characters"

    test_url = data.get("test_url")
    if test_url not in (None, "") and (reason := url_error(test_url, resolve=resolve)) is not None:
        errors["test_url"] = reason

    max_retries = data.get("max_retries")
    if max_retries is None:
        max_retries = settings.ESS_MAX_RETRIES
    if not (_is_int(max_retries) and 0 <= max_retries <= MAX_RETRIES_LIMIT):
        errors["max_retries"] = f"max_retries must be a whole number from 0 to {MAX_RETRIES_LIMIT}"

    base = data.get("retry_base_seconds")
    if base is None:
        base = settings.ESS_RETRY_BASE_SECONDS
    if not (_is_number(base) and 0 < base <= MAX_RETRY_BASE_SECONDS):
        errors["retry_base_seconds"] = (
            f"retry_base_seconds must be a number above 0 and at most {MAX_RETRY_BASE_SECONDS:g}"
        )

    redact = data.get("redact", [])
    if not isinstance(redact, list) or not all(isinstance(p, str) and PATH_PATTERN.fullmatch(p) for p in redact):
        errors["redact"] = "redact must be a list of dotted paths into data, e.g. patient.ssn"

    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        errors["enabled"] = "enabled must be true or false"

    schedule = data.get("schedule", "")
    if schedule and not (isinstance(schedule, str) and len(schedule.split()) == 5):
        errors["schedule"] = "schedule must be a cron expression of five fields"

    if errors:
        raise InvalidInput("invalid subscriber", errors)
    return SubscriberConfig(
        id=sid,
        url=data.get("url", ""),
        topics=list(topics or []),
        throttle=throttle,
        secret=secret,
        test_url=test_url or "",
        max_retries=max_retries,
        retry_base_seconds=float(base),
        redact=list(redact),
        enabled=enabled,
        connector=connector or "",
        target=data.get("target") or {},
        test_target=data.get("test_target") or {},
        schedule=schedule or "",
    )
