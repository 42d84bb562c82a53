"""Create or revoke API keys (SPEC §9): `ess key create --name N --scopes publish,read [--subscriber ID]`.

A new key is printed once, as the last word of the last line; only its hash is stored.
"""

from django.core.management.base import CommandError

from hub.exceptions import HubError
from hub.models import ApiKey, Subscriber
from hub.services.audit import api_key_create_recorded, api_key_revoke_recorded, cli_actor


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    create = sub.add_parser("create", help="Create a key and print it once.")
    create.add_argument("--name", required=True, help="What the key is for, e.g. 'pharmacy service'.")
    create.add_argument("--scopes", required=True, help="Comma-separated: publish,register,read.")
    create.add_argument("--subscriber", help="Bind the key to this subscriber id (it may then only replay and poll).")
    revoke = sub.add_parser("revoke", help="Revoke a key by the prefix shown in the admin (ess_...).")
    revoke.add_argument("prefix")


def run(command, options) -> None:
    if options["action"] == "create":
        _create(command, options)
    else:
        _revoke(command, options["prefix"])


def _create(command, options) -> None:
    scopes = [scope.strip() for scope in options["scopes"].split(",") if scope.strip()]
    subscriber = None
    if options.get("subscriber"):
        subscriber = Subscriber.objects.filter(pk=options["subscriber"]).first()
        if subscriber is None:
            raise CommandError(f"no subscriber with id {options['subscriber']!r}")
    try:
        key, token = api_key_create_recorded(name=options["name"], scopes=scopes, subscriber=subscriber, by=cli_actor())
    except HubError as exc:
        raise CommandError(f"{exc.message}: {exc.detail}" if exc.detail else exc.message) from None
    bound = f", bound to subscriber {subscriber.pk}" if subscriber else ""
    command.stdout.write(f"Created API key {key.name!r} (scopes {','.join(key.scopes)}{bound}).")
    command.stdout.write("It is shown this once; only its hash is stored. Key:")
    command.stdout.write(token)


def _revoke(command, prefix: str) -> None:
    keys = list(ApiKey.objects.filter(prefix=prefix))
    if len(keys) != 1:
        raise CommandError(f"{len(keys)} keys have the prefix {prefix!r}; give the 12-character prefix of one")
    if api_key_revoke_recorded(key=keys[0], by=cli_actor()):
        command.stdout.write(f"Revoked API key {keys[0].name!r} ({prefix}).")
    else:
        command.stdout.write(f"API key {keys[0].name!r} ({prefix}) was already revoked.")
