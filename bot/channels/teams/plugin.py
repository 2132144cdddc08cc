"""Plug Teams into the runtime: adapter and connections, the agent, the channel, the route."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import (
    AccessTokenProviderBase,
    AgentAuthConfiguration,
    AnonymousTokenProvider,
    ConnectionManager,
    TurnContext,
)
from starlette.routing import BaseRoute

from bot.channels.teams import PLATFORM
from bot.channels.teams.agent import TeamsInbound, build_application
from bot.channels.teams.channel import TeamsChannel
from bot.channels.teams.credentials import BotFrameworkCredentials, authority_url, tenant_of
from bot.channels.teams.routes import Gate, TeamsEndpoint
from bot.channels.teams.service_urls import ServiceUrlPolicy
from bot.channels.teams.tokens import BotFrameworkTokens
from bot.core.messages import Interaction
from bot.handlers.context import Reply
from bot.runtime import Runtime

log = logging.getLogger(__name__)

ProviderFactory = Callable[[AgentAuthConfiguration], AccessTokenProviderBase]
SERVICE_CONNECTION = "SERVICE_CONNECTION"
# Words that work as commands without a leading slash (the manifest's command list).
COMMANDS = frozenset({"help", "pause", "resume", "mine", "stop", "language", "timezone"})


def auth_configuration(runtime: Runtime) -> AgentAuthConfiguration:
    """Return the app registration and the cloud's token authority and scope.

    Anonymous calls are allowed only without an app id.
    """
    settings = runtime.settings
    password = settings.teams_app_password
    authority = authority_url(settings.teams_token_authority, settings.teams_tenant_id)
    return AgentAuthConfiguration(
        client_id=settings.teams_app_id,
        tenant_id=settings.teams_tenant_id or tenant_of(authority),
        client_secret=password.get_secret_value() if password else None,
        authority=authority,
        scopes=[settings.teams_token_scope],
        anonymous_allowed=settings.teams_app_id is None,
    )


def default_provider(config: AgentAuthConfiguration) -> AccessTokenProviderBase:
    """Return MSAL client credentials with an app id, else the anonymous provider."""
    return BotFrameworkCredentials(config) if config.CLIENT_ID else AnonymousTokenProvider()


def gate(runtime: Runtime) -> Gate:
    """Return the inbound checks: tokens from the configured metadata, serviceUrl rule."""
    settings = runtime.settings
    app_id = settings.teams_app_id
    tokens = BotFrameworkTokens(settings.teams_openid_metadata_url, app_id) if app_id else None
    services = ServiceUrlPolicy.from_setting(settings.teams_allowed_service_hosts)
    return Gate(tokens, services, anonymous=app_id is None)


class TeamsPlugin:
    """Teams as the runtime sees it."""

    platform = PLATFORM

    def __init__(self, runtime: Runtime, provider: ProviderFactory = default_provider) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.config = auth_configuration(runtime)
        # The app registration, authority and scope of the bot's own token (inbound tokens are
        # checked by the route's gate, against TEAMS_OPENID_METADATA_URL).
        self.connections = ConnectionManager(provider, {SERVICE_CONNECTION: self.config})
        self.adapter = CloudAdapter(connection_manager=self.connections)
        self.adapter.on_turn_error = self._on_turn_error
        self.app = build_application(self.connections)
        self.channel = TeamsChannel(
            self.app,
            self.adapter,
            secret=runtime.secret,
            app_id=settings.teams_app_id or "",
            service_url=settings.teams_service_url,
            sessions=runtime.sessions,
        )
        self.inbound = TeamsInbound(
            self.app,
            self.channel,
            sessions=runtime.sessions,
            clock=runtime.clock,
            secret=runtime.secret,
            handle=self._handle,
            commands=COMMANDS,
        )
        self.endpoint = TeamsEndpoint(self.adapter, self.app, gate(runtime))

    async def _handle(self, interaction: Interaction) -> list[Reply]:
        router = self.runtime.router
        if router is None:
            raise RuntimeError("the runtime has no router yet")
        return await router.handle(interaction)

    @staticmethod
    async def _on_turn_error(context: TurnContext, error: Exception) -> None:
        # The SDK's default tells the user the exception text; log the type instead.
        log.error("teams: turn failed", extra={"error": type(error).__name__})

    def routes(self) -> list[BaseRoute]:
        """Return POST /teams/messages."""
        return self.endpoint.routes()

    async def start(self) -> None:
        """Do nothing: Teams pushes activities to the route."""

    async def stop(self) -> None:
        """Let work scheduled by earlier activities finish."""
        await self.inbound.drain()


def build_plugin(runtime: Runtime, **options: Any) -> TeamsPlugin:
    """Return the Teams plugin for a runtime."""
    return TeamsPlugin(runtime, **options)
