"""Everything a running instance holds: settings, database, clock, channels, router."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.routing import BaseRoute

from bot.channels.port import Channel
from bot.clock import Clock, SystemClock
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.handlers.router import Router


class ChannelPlugin(Protocol):
    """A platform as the runtime sees it: an outbound channel, HTTP routes, a lifecycle."""

    platform: str
    channel: Channel

    def routes(self) -> list[BaseRoute]:
        """Return the routes this platform adds to the one HTTP server."""
        ...

    async def start(self) -> None:
        """Start background work (polling, socket mode) after the server is up."""
        ...

    async def stop(self) -> None:
        """Stop background work."""
        ...


def default_instance_name() -> str:
    """Name this process for outbox claims and logs."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Runtime:
    """The running instance's shared parts; built once by `tenkepause run` or a test."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock = field(default_factory=SystemClock)
    plugins: dict[str, ChannelPlugin] = field(default_factory=dict)
    instance: str = field(default_factory=default_instance_name)
    router: Router | None = None

    @property
    def channels(self) -> dict[str, Channel]:
        """Return the outbound channel of every enabled platform."""
        return {name: plugin.channel for name, plugin in self.plugins.items()}

    @property
    def secret(self) -> str:
        """Return the key that signs button data, sessions and links."""
        return self.settings.secret()
