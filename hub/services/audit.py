"""The record of manual actions (SPEC §8: "every manual action is recorded with who and when").

`manual_action_record` is called by the services that change things on a
person's behalf, inside their transaction, so the record exists exactly when
the change does; the API-key wrappers here do that for hub.services.keys.
Must never record a secret's value.
"""

import getpass

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from hub.models import ApiKey, ManualAction, Subscriber
from hub.services.keys import api_key_create, api_key_revoke

# Who acted: a Django user (admin), a label such as "cli:root", or None (unknown).
Actor = AbstractBaseUser | str | None


def cli_actor() -> str:
    """The actor label of a person at the command line."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def manual_action_record(*, by: Actor, action: str, target: str, detail: dict | None = None) -> ManualAction:
    user = by if getattr(by, "is_authenticated", False) and getattr(by, "pk", None) is not None else None
    if user is not None:
        actor = user.get_username()
    elif isinstance(by, str) and by:
        actor = by
    else:
        actor = "unknown"
    return ManualAction.objects.create(user=user, actor=actor, action=action, target=target, detail=detail or {})


@transaction.atomic
def api_key_create_recorded(
    *, name: str, scopes: list[str], subscriber: Subscriber | None = None, by: Actor
) -> tuple[ApiKey, str]:
    """A person creates an API key (admin or `ess key create`); returns the row and the key, shown once."""
    key, token = api_key_create(
        name=name, scopes=scopes, subscriber=subscriber, created_by=by if isinstance(by, AbstractBaseUser) else None
    )
    manual_action_record(
        by=by,
        action=ManualAction.Action.KEY_CREATE,
        target=f"api_key:{key.pk}",
        detail={"name": key.name, "prefix": key.prefix, "scopes": key.scopes, "subscriber": key.subscriber_id},
    )
    return key, token


@transaction.atomic
def api_key_revoke_recorded(*, key: ApiKey, by: Actor) -> bool:
    """A person revokes an API key; False when it was already revoked."""
    if key.revoked_at is not None:
        return False
    api_key_revoke(key=key)
    manual_action_record(
        by=by, action=ManualAction.Action.KEY_REVOKE, target=f"api_key:{key.pk}", detail={"prefix": key.prefix}
    )
    return True
