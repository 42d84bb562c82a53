"""Webhook signatures (SPEC §5): X-ESS-Signature and Standard Webhooks.

Computed at send time over the exact bytes sent; never logs a secret.
"""

import base64
import hashlib
import hmac
import secrets as _secrets


def generate_secret() -> str:
    return "whsec_" + base64.b64encode(_secrets.token_bytes(32)).decode()


def signing_key(secret: str) -> bytes:
    """The HMAC key: decoded bytes of a `whsec_` secret, else its UTF-8 bytes."""
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret[len("whsec_") :], validate=True)
        except ValueError:
            pass
    return secret.encode()


def ess_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(signing_key(secret), body, hashlib.sha256).hexdigest()


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Headers signing `body`; `secrets` is newest first (several while a rotated one overlaps).

    X-ESS-Signature carries the newest secret's HMAC; webhook-signature carries
    one `v1,` signature per secret, space-separated, as Standard Webhooks says.
    """
    return {
        "X-ESS-Signature": ess_signature(secrets[0], body),
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(standard_signature(s, msg_id, timestamp, body) for s in secrets),
    }
