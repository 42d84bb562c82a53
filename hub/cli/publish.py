"""Publish events from the command line: `ess publish TOPIC --data JSON` or `ess publish --file events.jsonl`.

A file holds one event object per line ({"topic": ..., "data": {...}}), sent
in batches of 1000 through hub.services.events, the path of POST
/ess/publish. The whole file is validated before the first batch is stored,
so a bad line stores nothing; give each line an idempotency_key to make a
re-run after an interruption safe.
"""

import json
import sys
from collections.abc import Iterator

from django.conf import settings
from django.core.management.base import CommandError

from hub.exceptions import HubError
from hub.models import Channel
from hub.services.events import event_draft, event_publish, events_store, format_ts


def add_arguments(parser) -> None:
    parser.add_argument("topic", nargs="?", help="Topic of the one event to publish, e.g. drug.copay.")
    parser.add_argument("--data", help="The event's data: a JSON object.")
    parser.add_argument("--file", help="A JSON Lines file of event objects ('-' reads standard input).")
    parser.add_argument("--channel", choices=Channel.values, help="Publish as this channel (test: UAT targets).")
    parser.add_argument("--idempotency-key", help="With TOPIC: publish at most once under this key.")


def run(command, options) -> None:
    if options["file"]:
        if options["topic"] or options["data"] or options["idempotency_key"]:
            raise CommandError("give either TOPIC --data JSON or --file FILE, not both")
        _publish_file(command, options["file"], channel=options["channel"])
        return
    if not options["topic"] or options["data"] is None:
        raise CommandError("give TOPIC --data JSON, or --file FILE")
    try:
        data = json.loads(options["data"])
    except ValueError as exc:
        raise CommandError(f"--data is not JSON: {exc}") from None
    try:
        event = event_publish(
            topic=options["topic"],
            data=data,
            channel=options["channel"] or Channel.LIVE,
            idempotency_key=options["idempotency_key"],
        )
    except HubError as exc:
        raise CommandError(_reason(exc)) from None
    command.stdout.write(f"published {event.uid} {event.topic} cursor {event.id} at {format_ts(event.ts)}")


def _reason(exc: HubError) -> str:
    return f"{exc.message}: {json.dumps(exc.detail)}" if exc.detail else exc.message


def _lines(path: str) -> Iterator[tuple[int, dict]]:
    """(line number, event object) for every non-blank line."""
    stream = sys.stdin if path == "-" else open(path, encoding="utf-8")
    with stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except ValueError as exc:
                raise CommandError(f"{path}:{number}: not JSON: {exc}") from None


def _batches(path: str, channel: str | None) -> Iterator[list]:
    batch = []
    for number, item in _lines(path):
        try:
            batch.append(event_draft(item, channel_override=channel))
        except HubError as exc:
            raise CommandError(f"{path}:{number}: {_reason(exc)}") from None
        if len(batch) == settings.ESS_MAX_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _publish_file(command, path: str, *, channel: str | None) -> None:
    if path == "-":
        # Standard input can be read once: validate each batch just before storing it.
        checked = None
    else:
        try:
            checked = sum(len(batch) for batch in _batches(path, channel))
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc}") from None
        command.stdout.write(f"{path}: {checked} events valid; publishing in batches of {settings.ESS_MAX_BATCH}")
    done = 0
    for batch in _batches(path, channel):
        published = events_store(drafts=batch)
        done += len(published)
        total = f"/{checked}" if checked is not None else ""
        command.stdout.write(f"published {done}{total} (last cursor {published[-1].event.id})")
    command.stdout.write(f"done: {done} events from {path}")
