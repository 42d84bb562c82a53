"""`python manage.py ess <subcommand>`: thin command-line helpers (SPEC §9).

Each subcommand lives in hub/cli/<name>.py with `add_arguments(parser)` and
`run(command, options)`; this file only wires them up.
"""

from importlib import import_module

from django.core.management.base import BaseCommand

SUBCOMMANDS = {
    "key": "hub.cli.key",
    "publish": "hub.cli.publish",
    "replay": "hub.cli.replay",
    "status": "hub.cli.status",
    "check-subscribers": "hub.cli.check_subscribers",
}


def _load(name: str):
    try:
        return import_module(SUBCOMMANDS[name])
    except ModuleNotFoundError:
        return None


class Command(BaseCommand):
    help = "Integration hub helpers: key, publish, replay, status, check-subscribers."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        for name in SUBCOMMANDS:
            module = _load(name)
            if module is not None:
                module.add_arguments(sub.add_parser(name, help=module.__doc__.strip().splitlines()[0]))

    def handle(self, *args, subcommand, **options):
        return _load(subcommand).run(self, options)
