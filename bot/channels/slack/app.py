"""The bolt AsyncApp: verify, ack at once, then translate and hand over to the router.

Every listener acks first and leaves the slow part (database, replies) to a tracked
background task, so Slack always gets its answer within 3 seconds.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.signature import SignatureVerifier
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.channels.port import SendError
from bot.channels.slack import inbound
from bot.channels.slack.api import COMMAND
from bot.channels.slack.blocks import (
    ANSWER_ACTION,
    ANSWER_MODAL,
    BUTTON_PREFIX,
    HOME_ASK_INPUT,
    HOME_ASK_SAVE,
    AskSpec,
)
from bot.channels.slack.blocks import answer_modal as build_answer_modal
from bot.channels.slack.channel import SlackChannel, parse_ref
from bot.channels.slack.linking import SlackLinker
from bot.core.messages import TAMPERED, Interaction, OutMessage

log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"
HOME_TAG = "home"  # the tag of the router's home message (bot/handlers/home.py)


class ReplyLike(Protocol):
    """What the router returns (bot.handlers.context.Reply)."""

    @property
    def message(self) -> OutMessage:
        """Return the message to send."""
        ...

    @property
    def replace(self) -> str | None:
        """Return the reference of the message to update instead, if any."""
        ...

    @property
    def ephemeral(self) -> bool:
        """Tell whether only the acting person should see it."""
        ...


Handle = Callable[[Interaction], Awaitable[Sequence[ReplyLike]]]


@dataclass(frozen=True, slots=True)
class Target:
    """Where replies to one interaction go."""

    user: str
    channel: str | None = None
    thread_ts: str | None = None
    ephemeral: bool = False  # slash commands answer only the person who typed them
    home: bool = False  # a click in the App Home: refresh it afterwards
    team: str | None = None  # only with several workspaces


class SlackInbound:
    """The bolt app around one SlackChannel, and the background work it starts."""

    def __init__(
        self,
        *,
        channel: SlackChannel,
        signing_secret: str,
        handle: Handle,
        linker: SlackLinker | None = None,
        oauth_settings: AsyncOAuthSettings | None = None,
    ) -> None:
        self.channel = channel
        self.secret = channel.secret
        self.handle = handle
        self.linker = linker
        self._tasks: set[asyncio.Task[None]] = set()
        self.verifier = SignatureVerifier(signing_secret)
        self.app = AsyncApp(
            # The token rather than our client: given a client, bolt still reads
            # SLACK_BOT_TOKEN from the environment and warns that it is unused. Its own
            # client (auth.test, views) is pointed at our API URL below.
            token=channel.client.token,
            signing_secret=signing_secret,
            # Listeners only ack and spawn, so waiting for them costs nothing and keeps
            # the ack inside the request.
            process_before_response=True,
            # With OAuth, bolt finds each workspace's token in our installation tables.
            oauth_settings=oauth_settings,
        )
        self.app.client.base_url = channel.client.base_url
        self.app.client.retry_handlers = list(channel.client.retry_handlers)
        self._register()
        self.handler = AsyncSlackRequestHandler(self.app)

    # --- wiring -----------------------------------------------------------------
    def _register(self) -> None:
        app = self.app
        app.event("message")(self._on_message)
        app.event("app_home_opened")(self._on_home_opened)
        app.action(ANSWER_ACTION)(self._on_answer_click)
        app.action(re.compile("^" + re.escape(BUTTON_PREFIX)))(self._on_button)
        app.action(HOME_ASK_SAVE)(self._on_home_ask)
        app.action(HOME_ASK_INPUT)(self._on_home_ask)
        app.view(ANSWER_MODAL)(self._on_submission)
        app.command(COMMAND)(self._on_command)

    def routes(self) -> list[Route]:
        """Return POST /slack/events and, with OAuth, the install and redirect pages."""
        routes = [Route(EVENTS_PATH, self.endpoint, methods=["POST"])]
        flow = self.app.oauth_flow
        if flow is not None:
            for path in (flow.install_path, flow.redirect_uri_path):
                routes.append(Route(path, self.endpoint, methods=["GET"]))
        return routes

    def team(self, body: dict[str, Any]) -> str | None:
        """Return the workspace of a request, if replies must name it (several workspaces)."""
        return self.channel.team_of(inbound.body_team(body))

    def signed(self, request: Request, body: bytes) -> bool:
        """Tell whether Slack signed these exact bytes within the last five minutes."""
        headers = request.headers
        try:
            return self.verifier.is_valid(
                body, headers.get("x-slack-request-timestamp"), headers.get("x-slack-signature")
            )
        except ValueError:  # a timestamp that is not a number, a body that is not UTF-8
            return False

    async def endpoint(self, request: Request) -> Response:
        """Check the signature on the raw bytes, and only then let bolt parse and serve them.

        bolt parses a body before its own signature check, and logs a refused request with
        its whole body; an unsigned request never reaches it here.
        """
        if request.method == "POST" and not self.signed(request, await request.body()):
            log.warning("slack request refused: missing, wrong or stale signature")
            return Response("invalid signature", status_code=401)
        try:
            return await self.handler.handle(request)
        except Exception as error:  # a signed body bolt cannot parse: say so, not a 500
            log.warning("slack request refused: %s", type(error).__name__)
            return Response("malformed request", status_code=400)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run slow work after the ack, keeping a reference so it is not collected."""
        task = asyncio.get_running_loop().create_task(self._guarded(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until all background work has finished (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    @staticmethod
    async def _guarded(work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception as error:  # a failed reply must not kill the app; never log text
            log.exception("slack background work failed: %s", type(error).__name__)

    # --- listeners ----------------------------------------------------------------
    async def _on_message(self, ack: AsyncAck, event: dict[str, Any], body: dict[str, Any]) -> None:
        await ack()
        team = self.team(body)
        interaction = inbound.message_interaction(event, body.get("event_id"), team)
        if interaction is None:
            return
        thread_ts = event.get("thread_ts")
        target = Target(interaction.external_user, interaction.chat, thread_ts, team=team)
        self.spawn(self.process(interaction, target))

    async def _on_button(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        interaction = inbound.action_interaction(self.secret, body, action, self.team(body))
        self.spawn(self.process(interaction, self._click_target(body, interaction)))

    async def _on_home_ask(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]
    ) -> None:
        await ack()
        interaction = inbound.home_ask_interaction(self.secret, body, action)
        self.spawn(self.process(interaction, self._click_target(body, interaction)))

    async def _on_answer_click(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]
    ) -> None:
        await ack()
        self.spawn(self._open_answer_modal(body, action))

    async def _on_submission(
        self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        await ack()  # closes the modal; the stored answer shows in the updated message
        interaction = inbound.submission_interaction(self.secret, body, view)
        target = Target(interaction.external_user, interaction.chat, team=self.team(body))
        self.spawn(self.process(interaction, target))

    async def _on_command(self, ack: AsyncAck, command: dict[str, Any]) -> None:
        await ack()
        interaction = inbound.command_interaction(command)
        target = Target(
            interaction.external_user, interaction.chat, ephemeral=True, team=self.team(command)
        )
        self.spawn(self.process(interaction, target))

    async def _on_home_opened(
        self, ack: AsyncAck, event: dict[str, Any], body: dict[str, Any]
    ) -> None:
        await ack()
        if event.get("tab", "home") != "home":
            return
        user = str(event["user"])
        self.spawn(self.publish_home(user, body.get("event_id"), self.team(body)))

    # --- the work after the ack ---------------------------------------------------------
    def _click_target(self, body: dict[str, Any], interaction: Interaction) -> Target:
        home = (body.get("container") or {}).get("type") == "view"
        thread_ts = ((body.get("message") or {}).get("thread_ts")) if not home else None
        return Target(
            interaction.external_user,
            interaction.chat,
            thread_ts,
            home=home,
            team=self.team(body),
        )

    async def process(self, interaction: Interaction, target: Target) -> None:
        """Link the user if new, let the router handle the act, and deliver its replies.

        Replies to an act in the App Home become the App Home: the router answers a home
        button with the refreshed home, and anything else (an error) shows above it.
        """
        if self.linker is not None:
            user, dm = interaction.external_user, interaction.chat
            if dm is not None and inbound.is_direct(dm):
                own = await self.linker.own_dm(user, dm, target.team)
                if own != dm:  # not this user's DM: answer in their own, never in it
                    target = replace(target, channel=own, thread_ts=None)
                await self.linker.ensure(user, dm, target.team)
            else:
                await self.linker.ensure(user, None, target.team)
        replies = await self.handle(interaction)
        if target.home:
            await self.refresh_home(target, [reply.message for reply in replies])
        else:
            await self.deliver(replies, target)

    async def deliver(self, replies: Sequence[ReplyLike], target: Target) -> None:
        """Send, update or show privately each reply, as the router asked."""
        for reply in replies:
            try:
                await self._deliver_one(reply, target)
            except SendError as error:
                log.warning("slack reply failed: %s", error)

    async def _deliver_one(self, reply: ReplyLike, target: Target) -> None:
        if reply.replace:
            await self.channel.update(reply.replace, reply.message)
            return
        team = target.team
        if (reply.ephemeral or target.ephemeral) and target.channel:
            try:
                await self.channel.post_ephemeral(
                    target.channel, target.user, reply.message, target.thread_ts, team=team
                )
                return
            except SendError:
                pass  # e.g. a command typed where the bot is not: fall back to the DM
        channel = None if target.ephemeral else target.channel
        channel = channel or await self.channel.open_dm(target.user, team)
        thread_ts = target.thread_ts if channel == target.channel else None
        await self.channel.post(channel, reply.message, thread_ts, team=team)

    async def _open_answer_modal(self, body: dict[str, Any], action: dict[str, Any]) -> None:
        user = str(body["user"]["id"])
        try:
            spec = AskSpec.from_value(str(action.get("value") or ""))
        except ValueError:
            spec = None
        if spec is None or inbound.decode_button(self.secret, spec.data)[0] == TAMPERED:
            # Let the router say the button is not valid; nothing is opened or stored.
            tampered = inbound.action_interaction(self.secret, body, {**action, "value": ""})
            await self.process(tampered, self._click_target(body, tampered))
            return
        ref = inbound.container_ref(body)
        metadata: dict[str, Any] = {"d": spec.data, "r": ref}
        if ref is not None:
            metadata["c"] = parse_ref(ref)[0]
        view = build_answer_modal(spec, metadata)
        await self.channel.open_modal(str(body["trigger_id"]), view, self.team(body))
        log.debug("answer modal opened for %s", user)

    async def publish_home(self, user: str, event_id: str | None, team: str | None = None) -> None:
        """Publish the App Home with what the router shows for `home`."""
        if self.linker is not None:
            await self.linker.ensure(user, None, team)
        interaction = inbound.home_interaction({"user": user}, event_id)
        replies = await self.handle(interaction)
        messages = [reply.message for reply in replies]
        if messages:
            await self.channel.publish_home(user, messages, team)

    async def refresh_home(self, target: Target, messages: list[OutMessage]) -> None:
        """Publish the home after an act in it, with any notice the router gave above it."""
        if not any(message.tag == HOME_TAG for message in messages):
            home = await self.handle(inbound.home_interaction({"user": target.user}, None))
            messages = [*messages, *(reply.message for reply in home)]
        if messages:
            await self.channel.publish_home(target.user, messages, target.team)
