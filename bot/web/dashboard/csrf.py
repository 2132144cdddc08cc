"""CSRF tokens for the dashboard's forms, bound to the session id in the signed cookie."""

from __future__ import annotations

import hashlib
import hmac

FIELD = "csrf_token"


def token_for(secret: str, session_id: str) -> str:
    """Return the token every form of this session must carry."""
    return hmac.new(secret.encode(), f"csrf:{session_id}".encode(), hashlib.sha256).hexdigest()


def is_valid(secret: str, session_id: str | None, token: object) -> bool:
    """Tell whether a submitted token belongs to this session."""
    if not session_id or not isinstance(token, str) or not token:
        return False
    return hmac.compare_digest(token_for(secret, session_id), token)
