"""The outbound Slack channel: the `Channel` port over slack-sdk's AsyncWebClient."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.channels.port import Address, PermanentFailure, RateLimited, TemporaryFailure
from bot.channels.slack.blocks import Block, fallback_text, home_view, message_blocks
from bot.core.messages import OutMessage

# Slack errors that mean this recipient cannot be reached, whatever we retry.
PERMANENT_ERRORS = frozenset(
    {
        "account_inactive",
        "user_not_found",
        "users_not_found",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "user_disabled",
        "cannot_dm_bot",
        "restricted_action",
    }
)
DEFAULT_RETRY_AFTER = 1.0

T = TypeVar("T")


def make_client(token: str, api_url: str, *, rate_limit_retries: int = 1) -> AsyncWebClient:
    """Return a Web API client on `api_url` that waits out a 429 `rate_limit_retries` times."""
    handlers: list[AsyncRetryHandler] = [
        AsyncRateLimitErrorRetryHandler(max_retry_count=rate_limit_retries)
    ]
    return AsyncWebClient(token=token, base_url=api_url, retry_handlers=handlers)


def parse_ref(message_ref: str) -> tuple[str, str]:
    """Split our message reference "CHANNEL:TS" into channel and timestamp."""
    channel, separator, ts = message_ref.partition(":")
    if not separator or not channel or not ts:
        raise ValueError(f"not a Slack message reference: {message_ref!r}")
    return channel, ts


def make_ref(channel: str, ts: str) -> str:
    """Return our message reference for a Slack message."""
    return f"{channel}:{ts}"


def _retry_after(response: AsyncSlackResponse) -> float:
    for name, value in (response.headers or {}).items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return float(raw)
            except ValueError:
                break
    return DEFAULT_RETRY_AFTER


def translate_error(error: SlackApiError) -> Exception:
    """Map a Slack API error to the port's RateLimited, PermanentFailure or TemporaryFailure."""
    response = error.response
    code = response.get("error") if isinstance(response.data, dict) else None
    status = response.status_code
    if status == 429 or code == "ratelimited":
        return RateLimited(_retry_after(response), detail=f"slack {code or status}")
    if code in PERMANENT_ERRORS:
        return PermanentFailure(str(code))
    # 5xx, and anything we cannot classify, is worth another try with backoff.
    return TemporaryFailure(f"slack {code or 'HTTP ' + str(status)}")


async def call(operation: Callable[[], Awaitable[T]]) -> T:
    """Run one Web API call, raising only the port's errors."""
    try:
        return await operation()
    except SlackApiError as error:
        raise translate_error(error) from error
    except (TimeoutError, aiohttp.ClientError) as error:
        raise TemporaryFailure(f"slack unreachable: {type(error).__name__}") from error


class SlackChannel:
    """Send, update and open group DMs; buttons carry values signed with `secret`."""

    platform = "slack"

    def __init__(self, client: AsyncWebClient, secret: str) -> None:
        self.client = client
        self.secret = secret

    def blocks(self, message: OutMessage) -> list[Block]:
        """Return a message's blocks, buttons signed."""
        return message_blocks(self.secret, message)

    async def open_dm(self, user: str) -> str:
        """Return the DM channel with `user`, opening it if needed."""
        response = await call(lambda: self.client.conversations_open(users=user))
        return str(response["channel"]["id"])

    async def channel_for(self, address: Address) -> str:
        """Return the conversation to post to: the stored channel, else a fresh DM."""
        channel = address.get("channel")
        if channel:
            return str(channel)
        user = address.get("user")
        if not user:
            raise PermanentFailure("slack address has neither channel nor user")
        return await self.open_dm(str(user))

    async def send(self, address: Address, message: OutMessage) -> str:
        """Post `message` and return "CHANNEL:TS"."""
        return await self.post(await self.channel_for(address), message)

    async def post(self, channel: str, message: OutMessage, thread_ts: str | None = None) -> str:
        """Post to a known conversation (optionally in a thread) and return its reference."""
        kwargs: dict[str, Any] = {
            "channel": channel,
            "text": fallback_text(message),
            "blocks": self.blocks(message),
            "unfurl_links": False,
        }
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        response = await call(lambda: self.client.chat_postMessage(**kwargs))
        return make_ref(str(response["channel"]), str(response["ts"]))

    async def update(self, message_ref: str, message: OutMessage) -> None:
        """Replace the message behind `message_ref`."""
        channel, ts = parse_ref(message_ref)
        await call(
            lambda: self.client.chat_update(
                channel=channel, ts=ts, text=fallback_text(message), blocks=self.blocks(message)
            )
        )

    async def post_ephemeral(
        self, channel: str, user: str, message: OutMessage, thread_ts: str | None = None
    ) -> None:
        """Show `message` to `user` only, in `channel` (and thread)."""
        kwargs: dict[str, Any] = {
            "channel": channel,
            "user": user,
            "text": fallback_text(message),
            "blocks": self.blocks(message),
        }
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        await call(lambda: self.client.chat_postEphemeral(**kwargs))

    async def open_group(self, addresses: Sequence[Address]) -> Address | None:
        """Open one group DM with everyone in `addresses` and return its address."""
        users = sorted({str(a["user"]) for a in addresses if a.get("user")})
        if not users:
            return None
        response = await call(lambda: self.client.conversations_open(users=",".join(users)))
        return {"channel": str(response["channel"]["id"])}

    async def publish_home(self, user: str, messages: list[OutMessage]) -> None:
        """Publish the App Home of `user`."""
        view = home_view(self.secret, messages)
        await call(lambda: self.client.views_publish(user_id=user, view=view))

    async def open_modal(self, trigger_id: str, view: dict[str, Any]) -> None:
        """Open a modal in answer to a click (the trigger lives 3 seconds)."""
        await call(lambda: self.client.views_open(trigger_id=trigger_id, view=view))

    async def user_profile(self, user: str) -> dict[str, Any]:
        """Return users.info's user object (email needs users:read.email)."""
        response = await call(lambda: self.client.users_info(user=user))
        return dict(response["user"])

    async def lookup_by_email(self, email: str) -> str | None:
        """Return the Slack user id with this email, or None."""
        try:
            response = await call(lambda: self.client.users_lookupByEmail(email=email))
        except PermanentFailure:
            return None
        return str(response["user"]["id"])
