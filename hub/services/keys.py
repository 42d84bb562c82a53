"""API keys: random tokens stored only as their SHA-256."""

import hashlib
import secrets
import threading
import time

from django.conf import settings
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


# Known keys, per process, for ESS_API_KEY_CACHE_SECONDS: a publish then costs
# no lookup query. Unknown tokens are never cached, so a new key works at once;
# a revocation reaches other processes within the TTL.
_cache: dict[str, tuple[float, ApiKey]] = {}
_cache_lock = threading.Lock()


def api_key_authenticate(token: str) -> ApiKey | None:
    digest = key_hash(token)
    now = time.monotonic()
    hit = _cache.get(digest)
    if hit is not None and hit[0] > now:
        return hit[1]
    key = ApiKey.objects.select_related("subscriber").filter(key_hash=digest, revoked_at__isnull=True).first()
    ttl = settings.ESS_API_KEY_CACHE_SECONDS
    with _cache_lock:
        if key is None or ttl <= 0:
            _cache.pop(digest, None)
        else:
            if len(_cache) > 10_000:
                _cache.clear()
            _cache[digest] = (now + ttl, key)
    return key


def api_key_revoke(*, key: ApiKey) -> None:
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    with _cache_lock:
        _cache.pop(key.key_hash, None)
