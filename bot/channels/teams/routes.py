"""POST /teams/messages on the one HTTP server: verify the Bot Framework JWT, then let the
SDK's adapter run the turn (`process_request`, the same path its aiohttp `process` takes)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import (
    AgentApplication,
    AgentAuthConfiguration,
    ClaimsIdentity,
    JwtTokenValidator,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

log = logging.getLogger(__name__)

PATH = "/teams/messages"
UNAUTHORIZED = {"error": "Invalid token or authentication failed."}


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


async def authorize(header: str | None, config: AgentAuthConfiguration) -> ClaimsIdentity | None:
    """Return the caller's verified claims, or None if the request must be refused.

    Without an app id (a local emulator, tests) the configuration allows anonymous calls;
    with one, a missing, malformed, forged or expired token is refused.
    """
    validator = JwtTokenValidator(config)
    if not header:
        return validator.get_anonymous_claims() if config.ANONYMOUS_ALLOWED else None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or " " in token.strip():
        return None
    try:
        return await validator.validate_token(token.strip())
    except Exception as error:  # any failure to verify is a refusal, never a pass
        log.warning("teams: token refused", extra={"error": type(error).__name__})
        return None


class TeamsEndpoint:
    """The one route Teams (through the Bot Framework) posts activities to."""

    def __init__(
        self, adapter: CloudAdapter, app: AgentApplication[Any], config: AgentAuthConfiguration
    ) -> None:
        self.adapter, self.app, self.config = adapter, app, config

    def routes(self) -> list[BaseRoute]:
        """Return POST /teams/messages."""
        return [Route(PATH, self.messages, methods=["POST"])]

    async def messages(self, request: Request) -> Response:
        """Verify the caller, then hand the activity to the SDK."""
        claims = await authorize(request.headers.get("authorization"), self.config)
        if claims is None:
            return JSONResponse(UNAUTHORIZED, status_code=401)
        result = await self.adapter.process_request(
            StarletteActivityRequest(request, claims), self.app
        )
        if result.body is not None:
            return JSONResponse(result.body, status_code=result.status_code)
        return Response(status_code=result.status_code, headers=result.headers)
