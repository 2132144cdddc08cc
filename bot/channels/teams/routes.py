"""POST /teams/messages on the one HTTP server: verify the Bot Framework JWT and the
activity's serviceUrl, then let the SDK's adapter run the turn (`process_request`, the same
path its aiohttp `process` takes)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import AgentApplication, ClaimsIdentity
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.channels.teams.service_urls import ServiceUrlPolicy, ServiceUrlRefused
from bot.channels.teams.tokens import BotFrameworkTokens, KeysUnavailable, TokenRefused

log = logging.getLogger(__name__)

PATH = "/teams/messages"
UNAUTHORIZED = {"error": "Invalid token or authentication failed."}
SERVICE_URL_CLAIM = "serviceurl"


class StarletteActivityRequest:
    """A Starlette request in the shape the SDK's `HttpRequestProtocol` expects."""

    def __init__(self, request: Request, claims: ClaimsIdentity) -> None:
        self._request, self._claims = request, claims

    @property
    def method(self) -> str:
        """Return the HTTP method."""
        return self._request.method

    @property
    def headers(self) -> Mapping[str, str]:
        """Return the request headers."""
        return self._request.headers

    async def json(self) -> dict[str, Any]:
        """Return the JSON body (the activity)."""
        body = await self._request.json()
        if not isinstance(body, dict):
            raise ValueError("the activity must be a JSON object")
        return body

    def get_claims_identity(self) -> ClaimsIdentity:
        """Return the verified claims of the caller."""
        return self._claims

    def get_path_param(self, name: str) -> str:
        """Return a path parameter."""
        return str(self._request.path_params[name])


class Gate:
    """Who may post activities: a valid Bot Framework token, and a serviceUrl it vouches for."""

    def __init__(
        self, tokens: BotFrameworkTokens | None, services: ServiceUrlPolicy, *, anonymous: bool
    ) -> None:
        self.tokens, self.services, self.anonymous = tokens, services, anonymous

    async def admit(self, header: str | None, activity: dict[str, Any]) -> ClaimsIdentity | None:
        """Return the caller's verified claims, or None if the activity must be refused.

        Without an app id (a local emulator, tests) anonymous calls are allowed; with one, a
        missing, malformed, forged or expired token is refused. Either way the activity's
        serviceUrl must match the token's claim, or be on the allow-list when there is none.
        """
        claims = await self._claims(header, activity.get("channelId"))
        if claims is None:
            return None
        try:
            self.services.check(
                activity.get("serviceUrl"), claims.get_claim_value(SERVICE_URL_CLAIM)
            )
        except ServiceUrlRefused as error:
            log.warning("teams: serviceUrl refused", extra={"error": str(error)})
            return None
        return claims

    async def _claims(self, header: str | None, channel_id: object) -> ClaimsIdentity | None:
        if not header:
            return ClaimsIdentity() if self.anonymous else None
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or " " in token or self.tokens is None:
            return None
        try:
            verified = await self.tokens.verify(token, str(channel_id) if channel_id else None)
        except TokenRefused as error:
            log.warning("teams: token refused", extra={"error": str(error)})
            return None
        return ClaimsIdentity(verified, security_token=token)


class TeamsEndpoint:
    """The one route Teams (through the Bot Framework) posts activities to."""

    def __init__(self, adapter: CloudAdapter, app: AgentApplication[Any], gate: Gate) -> None:
        self.adapter, self.app, self.gate = adapter, app, gate

    def routes(self) -> list[BaseRoute]:
        """Return POST /teams/messages."""
        return [Route(PATH, self.messages, methods=["POST"])]

    async def messages(self, request: Request) -> Response:
        """Verify the caller and the activity's serviceUrl, then hand the activity to the SDK."""
        header = request.headers.get("authorization")
        if not header and not self.gate.anonymous:
            return JSONResponse(UNAUTHORIZED, status_code=401)
        try:
            activity = await request.json()
        except ValueError:
            activity = None
        if not isinstance(activity, dict):
            return JSONResponse({"error": "the body must be a JSON activity"}, status_code=400)
        try:
            claims = await self.gate.admit(header, activity)
        except KeysUnavailable:
            return JSONResponse({"error": "signing keys unavailable; retry"}, status_code=503)
        if claims is None:
            return JSONResponse(UNAUTHORIZED, status_code=401)
        result = await self.adapter.process_request(
            StarletteActivityRequest(request, claims), self.app
        )
        if result.body is not None:
            return JSONResponse(result.body, status_code=result.status_code)
        return Response(status_code=result.status_code, headers=result.headers)
