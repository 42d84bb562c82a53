"""Secrets at rest: Fernet tokens under ESS_ENCRYPTION_KEYS (newest first).

MultiFernet decrypts with any listed key and encrypts with the first, so keys
rotate by prepending a new one. Plain secrets never reach the database or logs.
"""

from functools import cache, lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured(
            "ESS_ENCRYPTION_KEYS is not set: generate one with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
        )
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(f"ESS_ENCRYPTION_KEYS holds an invalid Fernet key: {exc}") from exc


def encrypt(plain: str) -> str:
    if not plain:
        return ""
    return _fernet(tuple(settings.ESS_ENCRYPTION_KEYS)).encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    if not token:
        return ""
    return _decrypt(tuple(settings.ESS_ENCRYPTION_KEYS), token)


@lru_cache(maxsize=4096)
def _decrypt(keys: tuple[str, ...], token: str) -> str:
    # Cached: dispatchers decrypt the same few secrets for every delivery they
    # claim; a token is immutable, and a changed secret is a new token.
    try:
        return _fernet(keys).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured("a stored secret cannot be decrypted with ESS_ENCRYPTION_KEYS") from exc
