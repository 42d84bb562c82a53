"""Subscriber files (SPEC §6) applied to the database: one idempotent pass over a folder.

Each subscriber row holds the last good version of its file, so a broken file
changes nothing, across restarts too; what is wrong is kept in FileError for
/ess/status. Must never delete a subscriber (a removed file disables it and its
history stays), never let a file take over a subscriber registered through the
API or the admin, and never log a secret.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from hub import crypto
from hub.exceptions import InvalidInput
from hub.models import FileError, Subscriber
from hub.signing import generate_secret
from hub.subscriber_files.parse import FileProblem, ParsedFile, subscriber_file_parse, subscriber_file_paths

log = logging.getLogger("hub.subscriber_files")

# pg_advisory_xact_lock key: two watchers overlapping during a takeover apply one after the other.
SYNC_LOCK_KEY = 0x455353_5F53594E  # "ESS_SYN"

_FILE_FIELDS = [
    "kind",
    "source",
    "state",
    "url",
    "test_url",
    "topics",
    "throttle",
    "max_retries",
    "retry_base_seconds",
    "redact",
    "connector",
    "target",
    "test_target",
    "schedule",
    "file_path",
    "file_digest",
]


@dataclass
class SyncReport:
    loaded: list[str] = field(default_factory=list)  # ids created or changed by their file
    unchanged: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)  # ids whose file is gone
    problems: list[FileProblem] = field(default_factory=list)
    new_problems: list[FileProblem] = field(default_factory=list)  # not recorded before this pass
    missing_directory: bool = False


def _read_folder(directory: Path) -> list[ParsedFile]:
    return [subscriber_file_parse(path=path) for path in subscriber_file_paths(directory)]


def _relevant_rows(parsed: list[ParsedFile], *, lock: bool) -> dict[str, Subscriber]:
    """File-sourced subscribers, and any subscriber whose id a file declares."""
    ids = [p.config.id for p in parsed if p.config is not None]
    rows = Subscriber.objects.filter(Q(source=Subscriber.Source.FILE) | Q(id__in=ids))
    if lock:
        rows = rows.select_for_update()
    return {row.id: row for row in rows}


def _claims(parsed: list[ParsedFile], rows: dict[str, Subscriber]) -> tuple[dict[str, ParsedFile], list[FileProblem]]:
    """Which good file owns each id, and a problem for each file that may not have its id.

    The file a subscriber was loaded from keeps it; a newcomer gets it only
    once that file is gone or declares another id. A broken owner keeps it too:
    its last good version is still the one in force.
    """
    broken = {p.name for p in parsed if not p.ok}
    by_id: dict[str, list[ParsedFile]] = {}
    for p in parsed:
        if p.config is not None:
            by_id.setdefault(p.config.id, []).append(p)
    winners: dict[str, ParsedFile] = {}
    problems: list[FileProblem] = []
    for sid, files in by_id.items():
        row = rows.get(sid)
        if row is not None and row.source != Subscriber.Source.FILE:
            reason = f"id {sid!r} is already used by a subscriber created through the {row.get_source_display()}"
            problems += [FileProblem(p.name, p.key_lines.get("id"), reason) for p in files]
            continue
        if row is not None and row.file_path in broken:
            reason = f"id {sid!r} belongs to {row.file_path}, which has an error; fix or remove that file first"
            problems += [FileProblem(p.name, p.key_lines.get("id"), reason) for p in files]
            continue
        owner = next((p for p in files if row is not None and p.name == row.file_path), files[0])
        winners[sid] = owner
        reason = f"id {sid!r} is already used by {owner.name}"
        problems += [FileProblem(p.name, p.key_lines.get("id"), reason) for p in files if p is not owner]
    return winners, problems


def _file_values(parsed: ParsedFile) -> dict:
    config = parsed.config
    return {
        "kind": Subscriber.Kind.CONNECTOR if config.connector else Subscriber.Kind.WEBHOOK,
        "source": Subscriber.Source.FILE,
        "state": Subscriber.State.ACTIVE if config.enabled else Subscriber.State.PAUSED,
        "url": config.url,
        "test_url": config.test_url,
        "topics": config.topics,
        "throttle": config.throttle,
        # Omitted fields take the hub's defaults, as for /ess/register.
        "max_retries": config.max_retries if "max_retries" in parsed.given else settings.ESS_MAX_RETRIES,
        "retry_base_seconds": (
            config.retry_base_seconds if "retry_base_seconds" in parsed.given else settings.ESS_RETRY_BASE_SECONDS
        ),
        "redact": config.redact,
        "connector": config.connector,
        "target": config.target,
        "test_target": config.test_target,
        "schedule": config.schedule,
        "file_path": parsed.name,
        "file_digest": parsed.digest,
    }


def _apply_secret(row: Subscriber, parsed: ParsedFile, now) -> list[str]:
    """Set the row's secret from the file; returns the changed fields.

    No secret in the file: keep the one the row has (generated at first load,
    or rotated by staff). A new secret from the file keeps the old one valid
    for the rotation overlap, as a rotation in the admin does.
    """
    if parsed.secret is None:
        if row.secret_encrypted:
            return []
        row.secret_encrypted = crypto.encrypt(generate_secret())
        return ["secret_encrypted"]
    current = crypto.decrypt(row.secret_encrypted)
    if current == parsed.secret:
        return []
    row.secret_encrypted = crypto.encrypt(parsed.secret)
    if not current:
        return ["secret_encrypted"]
    row.previous_secret_encrypted = crypto.encrypt(current)
    row.previous_secret_expires_at = now + timedelta(hours=settings.ESS_ROTATION_OVERLAP_HOURS)
    return ["secret_encrypted", "previous_secret_encrypted", "previous_secret_expires_at"]


def _apply(parsed: ParsedFile, row: Subscriber | None, now) -> bool:
    """Write the file's settings to its row; True when anything changed.

    An unchanged file (same name, same digest) leaves the row alone, so a pause
    by staff survives restarts; only its secret_env value is compared again,
    since the environment may have changed with a restart.
    """
    if row is None:
        row = Subscriber(id=parsed.config.id, **_file_values(parsed))
        _apply_secret(row, parsed, now)
        row.save(force_insert=True)
        return True
    changed: list[str] = []
    if row.file_path != parsed.name or row.file_digest != parsed.digest:
        for name, value in _file_values(parsed).items():
            setattr(row, name, value)
        changed += _FILE_FIELDS
    changed += _apply_secret(row, parsed, now)
    if changed:
        # Only these columns: the dispatcher updates progress columns concurrently.
        row.save(update_fields=[*changed, "updated_at"])
    return bool(changed)


def _record_problems(problems: list[FileProblem]) -> list[FileProblem]:
    """Make FileError hold exactly `problems`; returns those that are new or changed."""
    existing = {row.file: row for row in FileError.objects.select_for_update()}
    fresh = []
    for problem in problems:
        row = existing.pop(problem.file, None)
        if row is None:
            FileError.objects.create(file=problem.file, line=problem.line, error=problem.error)
        elif (row.line, row.error) != (problem.line, problem.error):
            row.line, row.error = problem.line, problem.error
            row.save()
        else:
            continue
        fresh.append(problem)
    if existing:
        FileError.objects.filter(pk__in=[row.pk for row in existing.values()]).delete()
    return fresh


@transaction.atomic
def _sync(parsed: list[ParsedFile]) -> SyncReport:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SYNC_LOCK_KEY])
    now = timezone.now()
    rows = _relevant_rows(parsed, lock=True)
    winners, conflicts = _claims(parsed, rows)
    report = SyncReport(problems=sorted([p.problem for p in parsed if p.problem] + conflicts, key=lambda p: p.file))
    for sid, owner in winners.items():
        (report.loaded if _apply(owner, rows.get(sid), now) else report.unchanged).append(sid)
    # A broken file keeps what it last loaded; any other file subscriber without a file is disabled.
    keep = {p.file for p in report.problems}
    for row in rows.values():
        if row.source != Subscriber.Source.FILE or row.id in winners or row.file_path in keep:
            continue
        if row.state == Subscriber.State.DISABLED and not row.file_digest:
            continue
        # An empty digest marks "file gone", so the file's return re-enables it.
        row.state, row.file_digest = Subscriber.State.DISABLED, ""
        row.save(update_fields=["state", "file_digest", "updated_at"])
        report.disabled.append(row.id)
    report.new_problems = _record_problems(report.problems)
    return report


def _log(report: SyncReport, parsed: list[ParsedFile], directory: Path) -> None:
    files = {p.config.id: p for p in parsed if p.config is not None}
    for sid in report.loaded:
        log.info("subscriber %s loaded from %s", sid, files[sid].name)
        if files[sid].inline_secret:
            log.warning("%s holds its signing secret inline; prefer secret_env", files[sid].name)
    for sid in report.disabled:
        log.info("subscriber %s disabled: its file is gone", sid)
    for problem in report.new_problems:
        log.warning("subscriber file %s not loaded: %s", problem.location(directory), problem.error)


def subscriber_files_sync(*, directory: Path) -> SyncReport:
    """Read, validate and apply every subscriber file in `directory` (one pass; idempotent).

    A missing folder changes nothing (a mount that failed must not disable
    every file subscriber).
    """
    directory = Path(directory)
    if not directory.is_dir():
        return SyncReport(missing_directory=True)
    parsed = _read_folder(directory)
    report = _sync(parsed)
    _log(report, parsed, directory)
    return report


def subscriber_file_check(*, directory: Path) -> list[FileProblem]:
    """Every problem the folder's files would have if loaded now; writes nothing.

    Ids taken by subscribers in the database are checked when the database
    answers; without one, the folder is still checked on its own.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise InvalidInput(f"{directory} is not a directory")
    parsed = _read_folder(directory)
    try:
        rows = _relevant_rows(parsed, lock=False)
    except DatabaseError as exc:
        log.warning("ids not checked against the database: %s", exc)
        rows = {}
    _, conflicts = _claims(parsed, rows)
    return sorted([p.problem for p in parsed if p.problem] + conflicts, key=lambda p: (p.file, p.line or 0))
