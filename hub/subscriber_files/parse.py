"""Read one subscriber file (SPEC §6) into validated settings, or into a problem
that names the file and the 1-based line a person has to fix.

Pure: reads the file and the environment, never the database, and never puts a
secret into an error message (YAML snippets are left out of syntax errors for
that reason).
"""

import hashlib
import ipaddress
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from yaml.composer import ComposerError

from hub.exceptions import InvalidInput
from hub.services.subscriber_config import FILE_FIELDS, SubscriberConfig, subscriber_config_clean
from hub.urlsafety import url_error

SUFFIXES = (".yml", ".yaml")
MAX_FILE_BYTES = 64 * 1024
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class FileProblem:
    """Why a file was not loaded: `file` is its name in the folder, `line` 1-based or None."""

    file: str
    line: int | None
    error: str

    def location(self, directory: Path | None = None) -> str:
        path = str(directory / self.file) if directory is not None else self.file
        return f"{path}:{self.line}" if self.line is not None else path


@dataclass
class ParsedFile:
    name: str
    digest: str
    config: SubscriberConfig | None = None
    # The secret the file gives (inline or through secret_env); None: keep or generate one.
    secret: str | None = None
    inline_secret: bool = False
    given: set[str] = field(default_factory=set)
    key_lines: dict[str, int] = field(default_factory=dict)
    problem: FileProblem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


class _FileLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and aliases, both with the line they are on.

    Aliases are refused because a file of nested aliases expands to gigabytes
    once stored as JSON, and a subscriber file is too small to need them.
    """

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise ComposerError(None, None, "aliases (*name) are not allowed in subscriber files", mark)
        return super().compose_node(parent, index)

    def compose_mapping_node(self, anchor):
        node = super().compose_mapping_node(anchor)
        first_seen: dict[str, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            line = key_node.start_mark.line + 1
            if key_node.value in first_seen:
                raise ComposerError(
                    None,
                    None,
                    f"duplicate key {key_node.value!r} (first at line {first_seen[key_node.value]})",
                    key_node.start_mark,
                )
            first_seen[key_node.value] = line
        return node


def subscriber_file_paths(directory: Path) -> list[Path]:
    """The subscriber files in `directory`, by name; hidden files (editor droppings) are not."""
    return sorted(
        path
        for path in directory.iterdir()
        if path.suffix in SUFFIXES and not path.name.startswith(".") and path.is_file()
    )


def _yaml_problem(name: str, exc: yaml.YAMLError) -> FileProblem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and context_mark is not None and mark is not None and context_mark.line != mark.line:
        context = f"{context} started at line {context_mark.line + 1}"
    message = ": ".join(part for part in (context, getattr(exc, "problem", None)) if part) or "not valid YAML"
    return FileProblem(name, mark.line + 1 if mark is not None else None, f"invalid YAML: {message}")


def _load_yaml(name: str, text: str) -> tuple[object, dict[str, int]] | FileProblem:
    """The document and the line of each top-level key, or the problem."""
    loader = _FileLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return FileProblem(name, None, "the file is empty; it must hold a subscriber's fields (id, url, topics)")
        if not isinstance(node, yaml.MappingNode):
            line = node.start_mark.line + 1
            return FileProblem(name, line, "a subscriber file must be a mapping of fields (id: ..., url: ...)")
        for key_node, _ in node.value:
            if not (isinstance(key_node, yaml.ScalarNode) and key_node.tag == "tag:yaml.org,2002:str"):
                line = key_node.start_mark.line + 1
                return FileProblem(name, line, f"field names must be text, not {key_node.tag.rsplit(':', 1)[-1]}")
        key_lines = {key_node.value: key_node.start_mark.line + 1 for key_node, _ in node.value}
        return loader.construct_document(node), key_lines
    except yaml.YAMLError as exc:
        return _yaml_problem(name, exc)
    finally:
        loader.dispose()


def _problem_from_errors(name: str, errors: Mapping[str, str], key_lines: dict[str, int]) -> FileProblem:
    """One problem for the file: every field's reason, located at the first offending key."""
    ordered = sorted(errors.items(), key=lambda item: (key_lines.get(item[0]) is None, key_lines.get(item[0], 0)))
    line = key_lines.get(ordered[0][0])
    return FileProblem(name, line, "; ".join(f"{field_name}: {reason}" for field_name, reason in ordered))


def _literal_address_error(url: object) -> str | None:
    """Refuse a URL whose host is a literal refused address, without any DNS.

    Host names are not resolved when files load (a fresh machine may have no
    DNS, and a DNS hiccup must not break a good file); the dispatcher checks the
    address every connection actually reaches (hub.urlsafety.address_refusal).
    """
    if not isinstance(url, str):
        return None
    try:
        host = urlsplit(url).hostname
        ipaddress.ip_address(host or "")
    except ValueError:
        return None
    return url_error(url, resolve=True)  # a literal address: no lookup happens


def _secret_from(data: dict, environ: Mapping[str, str], errors: dict[str, str]) -> str | None:
    secret_env = data.get("secret_env")
    if secret_env is None:
        return data.get("secret")
    if "secret" in data:
        errors["secret_env"] = "give secret or secret_env, not both"
    elif not (isinstance(secret_env, str) and ENV_NAME.fullmatch(secret_env)):
        errors["secret_env"] = "secret_env must name an environment variable (letters, digits and _)"
    elif not environ.get(secret_env):
        errors["secret_env"] = f"environment variable {secret_env} is not set (or empty) in the hub's environment"
    elif len(environ[secret_env]) > 500:
        errors["secret_env"] = f"the secret in {secret_env} is longer than 500 characters"
    else:
        return environ[secret_env]
    return None


def _validate(data: dict, environ: Mapping[str, str]) -> tuple[SubscriberConfig | None, str | None, dict[str, str]]:
    """The cleaned settings and the file's secret, or the reason for each bad field."""
    errors: dict[str, str] = {}
    if isinstance(data.get("id"), bool | int | float):
        errors["id"] = "id must be text: quote it (YAML reads on, off, yes and no as true/false, digits as numbers)"
    secret = _secret_from(data, environ, errors)
    for key, value in data.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            errors[key] = "values must be text, numbers, true/false, lists or mappings (quote dates and times)"
    try:
        # The environment's secret goes through the same rules as an inline one.
        config = subscriber_config_clean(
            {**data, "secret": secret} if secret is not None else data, allowed=FILE_FIELDS, resolve=False
        )
    except InvalidInput as exc:
        detail = exc.detail if isinstance(exc.detail, dict) else {"file": exc.message}
        if "secret" in detail and "secret_env" in data:
            detail["secret_env"] = detail.pop("secret")
        errors = {**detail, **errors}
        config = None
    for url_field in ("url", "test_url"):
        if url_field not in errors and (reason := _literal_address_error(data.get(url_field))) is not None:
            errors[url_field] = reason
    return config, secret, errors


def subscriber_file_parse(*, path: Path, environ: Mapping[str, str] | None = None) -> ParsedFile:
    """Read, parse and validate one file with the rules of every subscriber (subscriber_config_clean)."""
    environ = os.environ if environ is None else environ
    name = path.name
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return ParsedFile(name, "", problem=FileProblem(name, None, f"cannot read the file: {exc.strerror}"))
    parsed = ParsedFile(name, hashlib.sha256(raw).hexdigest())
    if len(raw) > MAX_FILE_BYTES:
        parsed.problem = FileProblem(name, None, f"the file is larger than {MAX_FILE_BYTES} bytes")
        return parsed
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        parsed.problem = FileProblem(name, line, "the file is not UTF-8 text")
        return parsed
    loaded = _load_yaml(name, text)
    if isinstance(loaded, FileProblem):
        parsed.problem = loaded
        return parsed
    data, parsed.key_lines = loaded
    parsed.given = set(data)

    config, secret, errors = _validate(data, environ)
    if errors:
        parsed.problem = _problem_from_errors(name, errors, parsed.key_lines)
        return parsed
    parsed.config = config
    parsed.secret = secret
    parsed.inline_secret = "secret" in data
    return parsed
