"""Plug the web chat into the runtime: always on, it is the fallback channel."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.routing import BaseRoute

from bot.channels.webchat import PLATFORM
from bot.channels.webchat.channel import WebChatChannel
from bot.channels.webchat.routes import WebChat
from bot.runtime import Runtime


@dataclass
class WebChatPlugin:
    """The web chat as a ChannelPlugin."""

    web: WebChat
    platform: str = PLATFORM

    @property
    def channel(self) -> WebChatChannel:
        """Return the outbound channel."""
        return self.web.channel

    def routes(self) -> list[BaseRoute]:
        """Return the /chat routes."""
        return self.web.routes()

    async def start(self) -> None:
        """Do nothing: the page polls."""

    async def stop(self) -> None:
        """Do nothing."""


def build_plugin(runtime: Runtime) -> WebChatPlugin:
    """Return the web chat plugin for a runtime."""
    return WebChatPlugin(WebChat(runtime, WebChatChannel(runtime.sessions, runtime.secret)))
