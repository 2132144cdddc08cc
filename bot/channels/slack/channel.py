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


def make_client(token: str | None, api_url: str, *, rate_limit_retries: int = 1) -> AsyncWebClient:
    """Return a Web API client on `api_url` that waits out a 429 `rate_limit_retries` times.

    Without a token (several workspaces), each call names its workspace's token.
    """
    handlers: list[AsyncRetryHandler] = [
        AsyncRateLimitErrorRetryHandler(max_retry_count=rate_limit_retries)
    ]
    return AsyncWebClient(token=token, base_url=api_url, retry_handlers=handlers)


def split_ref(message_ref: str) -> tuple[str | None, str, str]:
    """Split "CHANNEL:TS" or, with several workspaces, "TEAM:CHANNEL:TS" into its parts."""
    parts = message_ref.split(":")
    if len(parts) == 2:  # the single-workspace form
        parts.insert(0, "")
    if len(parts) != 3 or not all(parts[1:]):
        raise ValueError(f"not a Slack message reference: {message_ref!r}")
    return parts[0] or None, parts[1], parts[2]


def parse_ref(message_ref: str) -> tuple[str, str]:
    """Split our message reference into channel and timestamp."""
    _, channel, ts = split_ref(message_ref)
    return channel, ts


def make_ref(channel: str, ts: str, team: str | None = None) -> str:
    """Return our message reference; the team is part of it only with several workspaces."""
    return f"{team}:{channel}:{ts}" if team else f"{channel}:{ts}"


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


# Return the bot token of a workspace (None = not installed); see installations.py.
TokenLookup = Callable[[str | None], Awaitable[str | None]]


class SlackChannel:
    """Send, update and open group DMs; buttons carry values signed with `secret`.

    With one workspace, `client` carries the bot token. With several (OAuth installs),
    `tokens` finds each workspace's token and every call names it; the Slack address and
    our message references then carry the team.
    """

    platform = "slack"

    def __init__(
        self, client: AsyncWebClient, secret: str, tokens: TokenLookup | None = None
    ) -> None:
        self.client = client
        self.secret = secret
        self.tokens = tokens

    @property
    def per_team(self) -> bool:
        """Tell whether each workspace has its own token (multi-workspace mode)."""
        return self.tokens is not None

    def team_of(self, team: str | None) -> str | None:
        """Return the team to remember in refs and addresses: only with several workspaces."""
        return team if self.per_team else None

    async def auth(self, team: str | None) -> dict[str, Any]:
        """Return the token argument for a call into `team` (none with one workspace)."""
        if self.tokens is None:
            return {}
        token = await self.tokens(team)
        if token is None:
            raise PermanentFailure(f"slack workspace {team or '(none)'} has not installed the app")
        return {"token": token}

    def blocks(self, message: OutMessage) -> list[Block]:
        """Return a message's blocks, buttons signed."""
        return message_blocks(self.secret, message)

    async def open_dm(self, user: str, team: str | None = None) -> str:
        """Return the DM channel with `user`, opening it if needed."""
        auth = await self.auth(team)
        response = await call(lambda: self.client.conversations_open(users=user, **auth))
        return str(response["channel"]["id"])

    async def channel_for(self, address: Address) -> str:
        """Return the conversation to post to: the stored channel, else a fresh DM."""
        channel = address.get("channel")
        if channel:
            return str(channel)
        user = address.get("user")
        if not user:
            raise PermanentFailure("slack address has neither channel nor user")
        return await self.open_dm(str(user), _team(address))

    async def send(self, address: Address, message: OutMessage) -> str:
        """Post `message` and return its reference ("CHANNEL:TS", or "TEAM:CHANNEL:TS")."""
        channel = await self.channel_for(address)
        return await self.post(channel, message, team=_team(address))

    async def post(
        self,
        channel: str,
        message: OutMessage,
        thread_ts: str | None = None,
        *,
        team: str | None = None,
    ) -> str:
        """Post to a known conversation (optionally in a thread) and return its reference."""
        kwargs: dict[str, Any] = {
            "channel": channel,
            "text": fallback_text(message),
            "blocks": self.blocks(message),
            "unfurl_links": False,
            **await self.auth(team),
        }
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        response = await call(lambda: self.client.chat_postMessage(**kwargs))
        return make_ref(str(response["channel"]), str(response["ts"]), self.team_of(team))

    async def update(self, message_ref: str, message: OutMessage) -> None:
        """Replace the message behind `message_ref`."""
        team, channel, ts = split_ref(message_ref)
        auth = await self.auth(team)
        await call(
            lambda: self.client.chat_update(
                channel=channel,
                ts=ts,
                text=fallback_text(message),
                blocks=self.blocks(message),
                **auth,
            )
        )

    async def post_ephemeral(
        self,
        channel: str,
        user: str,
        message: OutMessage,
        thread_ts: str | None = None,
        *,
        team: str | None = None,
    ) -> None:
        """Show `message` to `user` only, in `channel` (and thread)."""
        kwargs: dict[str, Any] = {
            "channel": channel,
            "user": user,
            "text": fallback_text(message),
            "blocks": self.blocks(message),
            **await self.auth(team),
        }
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        await call(lambda: self.client.chat_postEphemeral(**kwargs))

    async def open_group(self, addresses: Sequence[Address]) -> Address | None:
        """Open one group DM with everyone in `addresses` and return its address."""
        users = sorted({str(a["user"]) for a in addresses if a.get("user")})
        if not users:
            return None
        team = next((_team(a) for a in addresses if _team(a)), None)
        auth = await self.auth(team)
        response = await call(lambda: self.client.conversations_open(users=",".join(users), **auth))
        address: dict[str, Any] = {"channel": str(response["channel"]["id"])}
        if self.team_of(team):
            address["team"] = team
        return address

    async def publish_home(
        self, user: str, messages: list[OutMessage], team: str | None = None
    ) -> None:
        """Publish the App Home of `user`."""
        view = home_view(self.secret, messages)
        auth = await self.auth(team)
        await call(lambda: self.client.views_publish(user_id=user, view=view, **auth))

    async def open_modal(
        self, trigger_id: str, view: dict[str, Any], team: str | None = None
    ) -> None:
        """Open a modal in answer to a click (the trigger lives 3 seconds)."""
        auth = await self.auth(team)
        await call(lambda: self.client.views_open(trigger_id=trigger_id, view=view, **auth))

    async def user_profile(self, user: str, team: str | None = None) -> dict[str, Any]:
        """Return users.info's user object (email needs users:read.email; `tz` is there too)."""
        auth = await self.auth(team)
        response = await call(lambda: self.client.users_info(user=user, **auth))
        return dict(response["user"])

    async def lookup_by_email(self, email: str, team: str | None = None) -> dict[str, Any] | None:
        """Return the Slack user object with this email, or None."""
        auth = await self.auth(team)
        try:
            response = await call(lambda: self.client.users_lookupByEmail(email=email, **auth))
        except PermanentFailure:
            return None
        return dict(response["user"])


def _team(address: Address) -> str | None:
    team = address.get("team")
    return str(team) if team else None
