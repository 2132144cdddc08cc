"""Plug Slack into the runtime: the outbound channel, POST /slack/events, OAuth, Socket Mode."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from starlette.routing import BaseRoute

from bot.channels.slack.app import ReplyLike, SlackInbound
from bot.channels.slack.channel import SlackChannel, make_client
from bot.channels.slack.installations import InstalledTokens, oauth_settings
from bot.channels.slack.linking import SlackLinker
from bot.core.messages import Interaction
from bot.runtime import Runtime

log = logging.getLogger(__name__)


class SlackPlugin:
    """Slack as the runtime sees it.

    One workspace: SLACK_BOT_TOKEN. Several: SLACK_CLIENT_ID and SLACK_CLIENT_SECRET turn on
    OAuth installs at /slack/install, with tokens kept in our tables. Socket Mode replaces
    the HTTP route for events when an app token is set.
    """

    platform = "slack"

    def __init__(self, runtime: Runtime, *, app_token: str | None = None) -> None:
        settings = runtime.settings
        if settings.slack_signing_secret is None or not settings.slack_enabled:
            raise ValueError(
                "SLACK_SIGNING_SECRET and either SLACK_BOT_TOKEN or "
                "SLACK_CLIENT_ID with SLACK_CLIENT_SECRET are required"
            )
        self.runtime = runtime
        self.tokens: InstalledTokens | None = None
        oauth = None
        if settings.slack_oauth_enabled:
            client_id, client_secret = settings.slack_client_id, settings.slack_client_secret
            assert client_id is not None and client_secret is not None
            self.tokens = InstalledTokens(runtime.sessions, client_id)
            client = make_client(None, settings.slack_api_url)
            self.channel = SlackChannel(client, runtime.secret, self.tokens.bot_token)
            oauth = oauth_settings(
                engine=runtime.engine,
                client_id=client_id,
                client_secret=client_secret.get_secret_value(),
                public_url=settings.public_url,
                on_installed=self._installed,
            )
        else:
            assert settings.slack_bot_token is not None
            token = settings.slack_bot_token.get_secret_value()
            self.channel = SlackChannel(make_client(token, settings.slack_api_url), runtime.secret)
        self.linker = SlackLinker(runtime.sessions, self.channel)
        self.inbound = SlackInbound(
            channel=self.channel,
            signing_secret=settings.slack_signing_secret.get_secret_value(),
            handle=self._handle,
            linker=self.linker,
            oauth_settings=oauth,
        )
        self.app_token = app_token
        self._socket: AsyncSocketModeHandler | None = None

    async def _handle(self, interaction: Interaction) -> Sequence[ReplyLike]:
        router = self.runtime.router
        if router is None:
            raise RuntimeError("the runtime has no router yet")
        return await router.handle(interaction)

    def routes(self) -> list[BaseRoute]:
        """Return /slack/events (unless Socket Mode carries events) and the OAuth pages."""
        routes = list(self.inbound.routes())
        if self.app_token:
            routes = [route for route in routes if "POST" not in (route.methods or ())]
        return list(routes)

    async def start(self) -> None:
        """Connect Socket Mode if configured, and link roster people by email in the background."""
        if self.app_token:
            self._socket = AsyncSocketModeHandler(self.inbound.app, self.app_token)
            await self._socket.connect_async()  # type: ignore[no-untyped-call]
        teams = await self.tokens.teams() if self.tokens is not None else [None]
        for team in teams:
            self.inbound.spawn(self._link_roster(team))

    async def _installed(self, team: str) -> None:
        log.info("slack: workspace %s installed the app", team)
        self.inbound.spawn(self._link_roster(team))

    async def _link_roster(self, team: str | None) -> None:
        linked = await self.linker.link_roster(team)
        log.info("slack: linked %d roster people by email or slack_id", linked)

    async def stop(self) -> None:
        """Disconnect Socket Mode and let replies in flight finish."""
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
            self._socket = None
        await self.inbound.drain()


def build_plugin(runtime: Runtime) -> SlackPlugin:
    """Return the Slack plugin for a runtime whose settings enable Slack."""
    token = runtime.settings.slack_app_token
    return SlackPlugin(runtime, app_token=token.get_secret_value() if token else None)
