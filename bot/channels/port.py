"""The output port every chat platform implements, and the errors it may raise."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from bot.core.messages import OutMessage

Address = Mapping[str, Any]


class SendError(Exception):
    """A send did not go through."""


class RateLimited(SendError):
    """The platform asked us to wait `retry_after` seconds before trying again."""

    def __init__(self, retry_after: float, detail: str = "rate limited") -> None:
        super().__init__(f"{detail} (retry after {retry_after:g}s)")
        self.retry_after = retry_after


class TemporaryFailure(SendError):
    """A 5xx, a timeout or a dropped connection: worth retrying with backoff."""


class PermanentFailure(SendError):
    """The recipient cannot be reached on this platform (blocked, never started, gone).

    The person is marked unreachable on this platform and no retry is made.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@runtime_checkable
class Channel(Protocol):
    """Send and update messages on one platform."""

    platform: str

    async def send(self, address: Address, message: OutMessage) -> str:
        """Send `message` to `address` and return the platform's message reference."""
        ...

    async def update(self, message_ref: str, message: OutMessage) -> None:
        """Replace a message we sent earlier."""
        ...

    async def open_group(self, addresses: Sequence[Address]) -> Address | None:
        """Open one conversation with several people; None where the platform cannot."""
        ...
