"""API keys: random tokens stored only as their SHA-256."""

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from hub.exceptions import InvalidInput
from hub.models import ApiKey, Subscriber

KEY_PREFIX = "ess_"


def key_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def api_key_create(
    *, name: str, scopes: list[str], subscriber: Subscriber | None = None, created_by=None
) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the token, which is never shown again."""
    unknown = sorted(set(scopes) - set(ApiKey.Scope.values))
    if unknown:
        raise InvalidInput(f"unknown scope(s): {', '.join(unknown)}", {"scopes": f"choose from {ApiKey.Scope.values}"})
    if not name:
        raise InvalidInput("a key needs a name", {"name": "required"})
    token = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        name=name,
        prefix=token[:12],
        key_hash=key_hash(token),
        scopes=sorted(set(scopes)),
        subscriber=subscriber,
        created_by=created_by,
    )
    return key, token


def api_key_authenticate(token: str) -> ApiKey | None:
    return ApiKey.objects.select_related("subscriber").filter(key_hash=key_hash(token), revoked_at__isnull=True).first()


def api_key_revoke(*, key: ApiKey) -> None:
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
