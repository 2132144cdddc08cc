"""A fake Bot Framework: the Bot Connector Teams bots talk to, its signing keys, and the
login service that issues the bot's own token.

aiohttp on 127.0.0.1, port 0, plain HTTP or HTTPS (give it an SSL context). It records every
connector call and serves what the Agents SDK's connector client uses: create a conversation,
send to one, reply to an activity, update an activity, and read a member (email and UPN, as
Teams returns them). Any conversation can be scripted to answer 403, 404, 429 (with
Retry-After) or 500. It signs Bot Framework-style tokens with its own RSA key and publishes
the key as the Bot Framework does (OpenID metadata -> JWKS, endorsed for "msteams"). As a
login service it answers MSAL's tenant discovery and the client-credentials token request,
checking the app id and password it was given.
"""

from __future__ import annotations

import itertools
import json
import secrets
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://api.botframework.com"
KEY_ID = "fake-connector-key"
METADATA_PATH = "/v1/.well-known/openidconfiguration"
KEYS_PATH = "/v1/.well-known/keys"
ENDORSEMENTS = ["msteams", "webchat"]


@dataclass
class Call:
    """One request the fake received, and what it answered."""

    method: str
    path: str
    conversation: str | None
    body: Any
    authorization: str | None
    status: int = 200
    answer: Any = None


@dataclass
class Failure:
    """A scripted error for one conversation (or for creating conversations, key "*new*")."""

    status: int
    body: str
    retry_after: int | None = None
    times: int | None = None  # None = forever


def new_key() -> rsa.RSAPrivateKey:
    """Return a fresh RSA key for signing tokens."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class FakeConnector:
    """The fake service; use `async with FakeConnector() as connector`."""

    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    failures: dict[str, Failure] = field(default_factory=dict)
    key: rsa.RSAPrivateKey = field(default_factory=new_key)
    key_id: str = KEY_ID
    endorsements: list[str] = field(default_factory=lambda: list(ENDORSEMENTS))
    tls: ssl.SSLContext | None = None
    app_id: str | None = None  # the login service issues tokens only to this app...
    app_password: str | None = None  # ...with this password
    fetched: list[str] = field(default_factory=list)  # paths of metadata/keys/login requests
    token_requests: list[dict[str, str]] = field(default_factory=list)  # form, no secret
    issued: list[str] = field(default_factory=list)  # access tokens handed to the bot
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    port: int = 0

    async def __aenter__(self) -> FakeConnector:
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{cid}/activities", self._send)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._reply)
        app.router.add_put("/v3/conversations/{cid}/activities/{aid}", self._update)
        app.router.add_get("/v3/conversations/{cid}/members/{mid}", self._member)
        app.router.add_get("/keys", self._keys)
        app.router.add_get(KEYS_PATH, self._keys)
        app.router.add_get(METADATA_PATH, self._metadata)
        app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._tenant)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.tls)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base(self) -> str:
        """Return the fake's origin."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def service_url(self) -> str:
        """Return the serviceUrl activities carry, as Teams sends it (trailing slash)."""
        return f"{self.base}/"

    @property
    def jwks_url(self) -> str:
        """Return where the public signing key is published."""
        return f"{self.base}{KEYS_PATH}"

    @property
    def metadata_url(self) -> str:
        """Return the OpenID metadata URL (TEAMS_OPENID_METADATA_URL)."""
        return f"{self.base}{METADATA_PATH}"

    def authority(self, tenant: str) -> str:
        """Return the token authority for a tenant (TEAMS_TOKEN_AUTHORITY)."""
        return f"{self.base}/{tenant}"

    # -- scripting and inspection -----------------------------------------------------------

    def rotate_key(self, key_id: str) -> None:
        """Sign with a new key under a new key id from now on, and publish only that one."""
        self.key, self.key_id = new_key(), key_id

    def fail(self, conversation: str, status: int, body: str = "", **options: Any) -> None:
        """Answer every call about `conversation` with an error ("*new*": creating one)."""
        self.failures[conversation] = Failure(status, body or f"error {status}", **options)

    def member(self, user_id: str, *, email: str, name: str, aad: str) -> None:
        """Register a member the way Teams returns it from GET members/{id}."""
        self.members[user_id] = {
            "id": user_id,
            "name": name,
            "aadObjectId": aad,
            "email": email,
            "userPrincipalName": email,
        }

    def sent(self, conversation: str | None = None) -> list[Call]:
        """Return the messages posted (new or as replies), optionally to one conversation."""
        return [
            c
            for c in self.calls
            if c.method == "POST"
            and "/activities" in c.path
            and (conversation is None or c.conversation == conversation)
        ]

    def updates(self) -> list[Call]:
        """Return the update_activity calls."""
        return [c for c in self.calls if c.method == "PUT"]

    def created(self) -> list[Call]:
        """Return the create_conversation calls."""
        return [c for c in self.calls if c.path == "/v3/conversations"]

    def token(
        self, audience: str | list[str], *, key: rsa.RSAPrivateKey | None = None, **claims: Any
    ) -> str:
        """Return a Bot Framework-style token for `audience`, signed with our key (or `key`).

        A claim given as None is left out (e.g. `serviceurl=None`: a token without one).
        """
        now = int(time.time())
        payload = {
            "iss": ISSUER,
            "aud": audience,
            "iat": now,
            "nbf": now - 5,
            "exp": now + 3600,
            "serviceurl": self.service_url,
            **claims,
        }
        payload = {name: value for name, value in payload.items() if value is not None}
        signer = key or self.key
        return jwt.encode(payload, signer, algorithm="RS256", headers={"kid": self.key_id})

    # -- handlers ---------------------------------------------------------------------------

    async def _record(self, request: web.Request, conversation: str | None) -> web.Response | None:
        body = await request.json() if request.can_read_body else None
        self.calls.append(
            Call(
                request.method,
                request.path,
                conversation,
                body,
                request.headers.get("Authorization"),
            )
        )
        failure = self.failures.get(conversation or "")
        if failure is None:
            return None
        if failure.times is not None:
            failure.times -= 1
            if failure.times <= 0:
                del self.failures[conversation or ""]
        headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
        error = {"error": {"code": "Failure", "message": failure.body}}
        self.calls[-1].status, self.calls[-1].answer = failure.status, error
        return web.json_response(error, status=failure.status, headers=headers)

    async def _create(self, request: web.Request) -> web.Response:
        refused = await self._record(request, "*new*")
        if refused is not None:
            return refused
        body = self.calls[-1].body or {}
        user = (body.get("members") or [{}])[0].get("id", "someone")
        conversation = f"a:personal-{user}"
        return self._answer({"id": conversation}, 201)

    async def _send(self, request: web.Request) -> web.Response:
        return await self._post(request)

    async def _reply(self, request: web.Request) -> web.Response:
        return await self._post(request)

    async def _post(self, request: web.Request) -> web.Response:
        refused = await self._record(request, request.match_info["cid"])
        if refused is not None:
            return refused
        return self._answer({"id": f"msg-{next(self._ids)}"}, 201)

    async def _update(self, request: web.Request) -> web.Response:
        refused = await self._record(request, request.match_info["cid"])
        if refused is not None:
            return refused
        return self._answer({"id": request.match_info["aid"]}, 200)

    async def _member(self, request: web.Request) -> web.Response:
        refused = await self._record(request, request.match_info["cid"])
        if refused is not None:
            return refused
        member = self.members.get(request.match_info["mid"])
        if member is None:
            return self._answer({"error": {"code": "NotFound"}}, 404)
        return self._answer(member, 200)

    def _answer(self, body: dict[str, Any], status: int) -> web.Response:
        self.calls[-1].status, self.calls[-1].answer = status, body
        return web.json_response(body, status=status)

    async def _keys(self, request: web.Request) -> web.Response:
        self.fetched.append(request.path)
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        public.update(
            {"kid": self.key_id, "use": "sig", "alg": "RS256", "endorsements": self.endorsements}
        )
        return web.json_response({"keys": [public]})

    async def _metadata(self, request: web.Request) -> web.Response:
        self.fetched.append(request.path)
        return web.json_response(
            {
                "issuer": ISSUER,
                "authorization_endpoint": f"{self.base}/v1/authorize",
                "jwks_uri": self.jwks_url,
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        )

    async def _tenant(self, request: web.Request) -> web.Response:
        """MSAL's tenant discovery for the authority."""
        self.fetched.append(request.path)
        tenant = self.authority(request.match_info["tenant"])
        return web.json_response(
            {
                "issuer": f"{tenant}/v2.0",
                "authorization_endpoint": f"{tenant}/oauth2/v2.0/authorize",
                "token_endpoint": f"{tenant}/oauth2/v2.0/token",
            }
        )

    async def _token(self, request: web.Request) -> web.Response:
        """The client-credentials grant: a token for our app id and password only."""
        self.fetched.append(request.path)
        form = dict(await request.post())
        secret = form.pop("client_secret", None)
        self.token_requests.append({k: str(v) for k, v in form.items()})
        if (form.get("client_id"), secret) != (self.app_id, self.app_password):
            error = {"error": "invalid_client", "error_description": "bad client credentials"}
            return web.json_response(error, status=401)
        token = f"fake-bot-token-{secrets.token_hex(8)}"
        self.issued.append(token)
        return web.json_response(
            {"token_type": "Bearer", "expires_in": 3600, "access_token": token}
        )
