"""A channel that records what it is asked to send: for tests and dry runs."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bot.channels.port import Address, SendError
from bot.core.messages import OutMessage


@dataclass
class Sent:
    """One recorded send or update."""

    ref: str
    address: dict[str, object]
    message: OutMessage


@dataclass
class RecordingChannel:
    """Record sends and updates; `fail` may raise a SendError for chosen addresses."""

    platform: str = "webchat"
    fail: Callable[[Address], SendError | None] | None = None
    sent: list[Sent] = field(default_factory=list)
    updates: list[Sent] = field(default_factory=list)
    groups: list[list[dict[str, object]]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def send(self, address: Address, message: OutMessage) -> str:
        """Record the message, or raise the scripted failure."""
        if self.fail is not None and (error := self.fail(address)) is not None:
            raise error
        ref = f"{self.platform}:{next(self._ids)}"
        self.sent.append(Sent(ref, dict(address), message))
        return ref

    async def update(self, message_ref: str, message: OutMessage) -> None:
        """Record the replacement."""
        self.updates.append(Sent(message_ref, {}, message))

    async def open_group(self, addresses: Sequence[Address]) -> Address | None:
        """Record the group and return an address for it."""
        self.groups.append([dict(a) for a in addresses])
        return {"group": len(self.groups)}

    def texts(self) -> list[str]:
        """Return the text of every sent message, in order."""
        return [s.message.text for s in self.sent]
