"""The web chat's signed cookies: the session, the sign-in form's nonce, and CSRF tokens.

The session cookie carries a server-side session token (see `bot.services.web_sessions`),
signed so that a token is only accepted from a cookie this app wrote.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from itsdangerous import BadSignature, URLSafeSerializer

COOKIE = "tenkepause_chat"
COOKIE_PATH = "/chat"
# A random value the sign-in page sets before anyone is signed in; its form token is
# bound to it, so another site cannot post its own link's code from a leader's browser.
LOGIN_COOKIE = "tenkepause_chat_login"
LOGIN_COOKIE_PATH = "/chat/login"
LOGIN_COOKIE_SECONDS = 60 * 60


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="tenkepause.webchat.session")


def session_cookie(secret: str, token: str) -> str:
    """Return the cookie value that carries a session token."""
    return _serializer(secret).dumps(token)


def token_from_cookie(secret: str, value: str | None) -> str | None:
    """Return the session token of a genuine cookie, or None for a missing or forged one."""
    if not value:
        return None
    try:
        token = _serializer(secret).loads(value)
    except BadSignature:
        return None
    return token if isinstance(token, str) and token else None


def csrf_token(secret: str, cookie: str) -> str:
    """Return the token the page must echo on every post (bound to the session cookie)."""
    return hmac.new(secret.encode(), f"csrf:{cookie}".encode(), hashlib.sha256).hexdigest()


def new_login_nonce() -> str:
    """Return a fresh value for the sign-in cookie."""
    return secrets.token_urlsafe(16)


def login_form_token(secret: str, nonce: str, code: str) -> str:
    """Return the token the sign-in form carries, bound to the browser's nonce and the code."""
    message = f"chat-login:{nonce}:{code}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def login_form_ok(secret: str, nonce: str | None, code: str, token: object) -> bool:
    """Tell whether a posted sign-in form came from our page in this browser."""
    if not nonce or not isinstance(token, str) or not token:
        return False
    return hmac.compare_digest(login_form_token(secret, nonce, code), token)
