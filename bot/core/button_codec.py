"""Signed, compact button values that fit Telegram's 64-byte callback data.

A button travels as ``action:value:signature``. The signature is a truncated HMAC of
``action:value`` under the instance secret, so a client cannot forge or alter a value
(e.g. point it at someone else's delivery). Authorisation is still checked by the
handler; the signature only proves that we issued the value.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

MAX_BYTES = 64
SIGNATURE_CHARS = 11  # 64 bits of HMAC, base64url without padding


class TamperedButton(ValueError):
    """The button data was not issued by us, or was altered."""


def _signature(secret: str, body: str) -> str:
    digest = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:8]).decode().rstrip("=")[:SIGNATURE_CHARS]


def encode(secret: str, action: str, value: str) -> str:
    """Return the signed form of a button; raise ValueError if it would exceed 64 bytes."""
    if ":" in action:
        raise ValueError(f"button action may not contain ':' ({action!r})")
    body = f"{action}:{value}"
    data = f"{body}:{_signature(secret, body)}"
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"button data is {len(data.encode())} bytes; the limit is {MAX_BYTES}")
    return data


def decode(secret: str, data: str) -> tuple[str, str]:
    """Return (action, value) from signed button data, or raise TamperedButton."""
    body, _, signature = data.rpartition(":")
    action, separator, value = body.partition(":")
    if not separator or not hmac.compare_digest(signature, _signature(secret, body)):
        raise TamperedButton("button data failed verification")
    return action, value
