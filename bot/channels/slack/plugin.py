"""Plug Slack into the runtime: the outbound channel, POST /slack/events, Socket Mode."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from starlette.routing import BaseRoute

from bot.channels.slack.app import ReplyLike, SlackInbound
from bot.channels.slack.channel import SlackChannel, make_client
from bot.channels.slack.linking import SlackLinker
from bot.core.messages import Interaction
from bot.runtime import Runtime

log = logging.getLogger(__name__)


class SlackPlugin:
    """Slack as the runtime sees it; Socket Mode replaces the route when an app token is set."""

    platform = "slack"

    def __init__(self, runtime: Runtime, *, app_token: str | None = None) -> None:
        settings = runtime.settings
        if settings.slack_bot_token is None or settings.slack_signing_secret is None:
            raise ValueError("SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are both required")
        self.runtime = runtime
        client = make_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
        self.channel = SlackChannel(client, runtime.secret)
        self.linker = SlackLinker(runtime.sessions, self.channel)
        self.inbound = SlackInbound(
            channel=self.channel,
            signing_secret=settings.slack_signing_secret.get_secret_value(),
            handle=self._handle,
            linker=self.linker,
        )
        self.app_token = app_token
        self._socket: AsyncSocketModeHandler | None = None

    async def _handle(self, interaction: Interaction) -> Sequence[ReplyLike]:
        router = self.runtime.router
        if router is None:
            raise RuntimeError("the runtime has no router yet")
        return await router.handle(interaction)

    def routes(self) -> list[BaseRoute]:
        """Return POST /slack/events, unless Socket Mode carries the events."""
        return [] if self.app_token else list(self.inbound.routes())

    async def start(self) -> None:
        """Connect Socket Mode if configured, and link roster people by email in the background."""
        if self.app_token:
            self._socket = AsyncSocketModeHandler(self.inbound.app, self.app_token)
            await self._socket.connect_async()  # type: ignore[no-untyped-call]
        self.inbound.spawn(self._link_roster())

    async def _link_roster(self) -> None:
        linked = await self.linker.link_roster()
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
