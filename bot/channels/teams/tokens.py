"""Verify the Bot Framework's tokens with the keys its OpenID metadata names.

The SDK's `JwtTokenValidator` (1.9) picks signing keys from a fixed issuer -> keys URL table
and has no setting for another cloud's (or a local fake's) metadata, so the check is made
here with PyJWT, by the Bot Framework's rules: RS256, signed by a key from the metadata's
`jwks_uri` that is endorsed for the activity's channel, issued by the metadata's `issuer`,
for our app id, not expired (five minutes' clock skew allowed).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt
from yarl import URL

from bot.channels.teams.service_urls import is_loopback

log = logging.getLogger(__name__)

ALGORITHM = "RS256"
LEEWAY_SECONDS = 300
METADATA_TTL_SECONDS = 24 * 3600  # the Bot Framework rotates keys; refresh daily
UNKNOWN_KEY_REFETCH_SECONDS = 60  # an unknown kid refetches the keys at most this often
TIMEOUT = aiohttp.ClientTimeout(total=10)


class TokenRefused(ValueError):
    """The token is not a valid Bot Framework token for this bot."""


class KeysUnavailable(RuntimeError):
    """The OpenID metadata or signing keys could not be fetched."""


def require_secure_url(value: str, setting: str) -> str:
    """Return `value` if it is an https URL (plain http only on loopback), else raise."""
    url = URL(value)
    secure = url.scheme == "https" or (url.scheme == "http" and is_loopback(url.host))
    if not url.is_absolute() or not url.host or not secure:
        raise ValueError(f"{setting} must be an https URL (http only on loopback): {value!r}")
    return value


@dataclass(frozen=True)
class SigningKey:
    """One published key and the channels it is endorsed for (None: no endorsements given)."""

    key: jwt.PyJWK
    endorsements: frozenset[str] | None


@dataclass
class KeySet:
    """What the metadata and its key document said, and when they were fetched."""

    issuer: str
    keys: dict[str, SigningKey]
    fetched_at: float


def signing_keys(document: Any) -> dict[str, SigningKey]:
    """Return the RSA signing keys of a JWKS document by kid; other keys are skipped."""
    keys: dict[str, SigningKey] = {}
    entries = document.get("keys") if isinstance(document, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("kty") != "RSA" or entry.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(entry, algorithm=ALGORITHM)
        except jwt.PyJWTError:
            continue
        raw = entry.get("endorsements")
        endorsed = frozenset(str(e) for e in raw) if isinstance(raw, list) else None
        keys[entry["kid"]] = SigningKey(key, endorsed)
    return keys


@dataclass
class BotFrameworkTokens:
    """Verify inbound tokens for one app id against one OpenID metadata URL."""

    metadata_url: str
    audience: str
    clock: Callable[[], float] = time.monotonic
    _cached: KeySet | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        require_secure_url(self.metadata_url, "TEAMS_OPENID_METADATA_URL")

    async def verify(self, token: str, channel_id: str | None) -> dict[str, Any]:
        """Return the token's verified claims, or raise TokenRefused / KeysUnavailable."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise TokenRefused("malformed token") from error
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM or not isinstance(kid, str):
            raise TokenRefused("token is not RS256 with a key id")
        keys = await self._keys(kid)
        signing = keys.keys.get(kid)
        if signing is None:
            raise TokenRefused("token signed by an unknown key")
        if signing.endorsements is not None and channel_id not in signing.endorsements:
            raise TokenRefused("signing key is not endorsed for this channel")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                signing.key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=keys.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud"], "strict_aud": True},
            )
        except jwt.PyJWTError as error:
            raise TokenRefused(type(error).__name__) from error
        return claims

    async def _keys(self, kid: str) -> KeySet:
        """Return the cached keys, fetched again when stale or when `kid` is new to them."""
        async with self._lock:
            cached, now = self._cached, self.clock()
            if cached is not None:
                fresh = now - cached.fetched_at < METADATA_TTL_SECONDS
                recent = now - cached.fetched_at < UNKNOWN_KEY_REFETCH_SECONDS
                if fresh and (kid in cached.keys or recent):
                    return cached
            try:
                self._cached = await self._fetch()
            except KeysUnavailable:
                if cached is None:
                    raise
                log.warning("teams: signing keys not refreshed; using the ones we have")
                return cached
            return self._cached

    async def _fetch(self) -> KeySet:
        try:
            async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
                metadata = await _get_json(http, self.metadata_url)
                issuer, jwks_uri = metadata.get("issuer"), metadata.get("jwks_uri")
                if not isinstance(issuer, str) or not isinstance(jwks_uri, str):
                    raise KeysUnavailable("OpenID metadata lacks issuer or jwks_uri")
                require_secure_url(jwks_uri, "the metadata's jwks_uri")
                keys = signing_keys(await _get_json(http, jwks_uri))
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            log.warning("teams: signing keys unavailable", extra={"error": type(error).__name__})
            raise KeysUnavailable(type(error).__name__) from error
        return KeySet(issuer, keys, self.clock())


async def _get_json(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with http.get(url) as response:
        response.raise_for_status()
        body = await response.json(content_type=None)
    if not isinstance(body, dict):
        raise ValueError(f"{url} did not return a JSON object")
    return body
