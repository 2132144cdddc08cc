"""The web chat's signed session cookie and its CSRF token."""

from __future__ import annotations

import hashlib
import hmac

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "tenkepause_chat"
MAX_AGE = 60 * 60 * 24 * 30  # a month; the link can be sent again


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="tenkepause.webchat")


def session_cookie(secret: str, person_id: int) -> str:
    """Return the cookie value that signs in one person."""
    return _serializer(secret).dumps(person_id)


def person_from_cookie(secret: str, value: str | None) -> int | None:
    """Return the signed-in person, or None for a missing, forged or expired cookie."""
    if not value:
        return None
    try:
        person_id = _serializer(secret).loads(value, max_age=MAX_AGE)
    except BadSignature:
        return None
    return person_id if isinstance(person_id, int) else None


def csrf_token(secret: str, cookie: str) -> str:
    """Return the token the page must echo on every post (bound to the session cookie)."""
    return hmac.new(secret.encode(), f"csrf:{cookie}".encode(), hashlib.sha256).hexdigest()
