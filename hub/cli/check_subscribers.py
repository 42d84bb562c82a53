"""Check the subscriber files in a folder without loading them: one line per file, non-zero exit on any error.

Writes nothing; the rules are the ones the watcher applies (hub.subscriber_files).
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

from hub.exceptions import InvalidInput
from hub.subscriber_files.parse import subscriber_file_paths
from hub.subscriber_files.sync import subscriber_file_check


def add_arguments(parser) -> None:
    parser.add_argument("--dir", dest="directory", help="the folder to check (default: ESS_SUBSCRIBERS_DIR)")


def run(command, options) -> None:
    directory = Path(options.get("directory") or settings.ESS_SUBSCRIBERS_DIR)
    try:
        problems = subscriber_file_check(directory=directory)
    except InvalidInput as exc:
        raise CommandError(exc.message) from None
    by_file: dict[str, list] = {}
    for problem in problems:
        by_file.setdefault(problem.file, []).append(problem)
    paths = subscriber_file_paths(directory)
    for path in paths:
        for problem in by_file.get(path.name, []):
            command.stdout.write(f"error {problem.location(directory)}: {problem.error}")
        if path.name not in by_file:
            command.stdout.write(f"ok    {path}")
    if problems:
        raise CommandError(f"{len(by_file)} of {len(paths)} subscriber files have errors")
    command.stdout.write(f"{len(paths)} subscriber files ok")
