"""Print the sync status of every subscriber (SPEC §9): one row per subscriber, starting with its id.

Same figures as GET /ess/status (hub.selectors); `--json` prints that answer
itself. Must never write anything.
"""

import json

from hub.api.serializers import HubStatusSerializer
from hub.selectors import hub_status
from hub.services.events import format_ts

COLUMNS = ("ID", "STATE", "LAG", "PENDING", "DEAD", "LAST_ACK")


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="Print the /ess/status JSON instead of a table.")


def run(command, options) -> None:
    status = hub_status()
    if options["json"]:
        command.stdout.write(json.dumps(HubStatusSerializer(status).data, indent=2))
        return
    rows = [
        (
            s.id,
            s.state,
            str(s.lag),
            str(s.pending),
            str(s.dead),
            format_ts(s.last_ack_at) if s.last_ack_at else "never",
        )
        for s in status.subscribers
    ]
    widths = [max(len(row[i]) for row in [COLUMNS, *rows]) for i in range(len(COLUMNS))]

    def line(row) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()

    # The header and totals go to stderr, so stdout holds exactly one row per subscriber.
    command.stderr.write(line(COLUMNS))
    for row in rows:
        command.stdout.write(line(row))
    command.stderr.write(f"latest cursor {status.latest_cursor}; {len(rows)} subscriber(s)")
    for error in status.file_errors:
        command.stderr.write(f"file error: {error.file}:{error.line or '-'}: {error.error}")
