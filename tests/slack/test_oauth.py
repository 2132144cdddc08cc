"""Multi-workspace installs: bolt's OAuth flow on slack-sdk's stores, over our migrated tables."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from pydantic import SecretStr
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import MetaData, Table, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from bot.channels.slack.api import required_scopes
from bot.channels.slack.installations import INSTALL_PATH, REDIRECT_PATH
from bot.channels.slack.plugin import SlackPlugin
from bot.clock import Clock
from bot.services.render import OutboxRenderer
from scheduler.dispatcher import Dispatcher
from scheduler.tick import tick
from storage.models import (
    Answer,
    Delivery,
    Identity,
    SlackBot,
    SlackInstallation,
    SlackOAuthState,
)
from tests.fakes.slack_api import FakeSlackApi
from tests.slack.conftest import SIGNING_SECRET, slack_runtime
from tests.slack.world import LEADERS, SlackClient, build_world

PUBLIC_URL = "https://tenkepause.example.org"
TEAM_TWO, TOKEN_TWO = "T0000002", "xoxb-team-two"
COOKIE = "slack-app-oauth-state"


@dataclass
class Installs:
    """A plugin in OAuth mode, served over ASGI, and what it talks to."""

    api: FakeSlackApi
    plugin: SlackPlugin
    http: httpx.AsyncClient
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock

    async def begin(self) -> str:
        """Open /slack/install as a browser would and return the state it issued."""
        page = await self.http.get(INSTALL_PATH)
        assert page.status_code == 200
        state = self.http.cookies[COOKIE]
        assert f"state={state}" in page.text
        return state

    async def redirect(self, code: str, state: str) -> httpx.Response:
        """Come back from Slack to the redirect URL."""
        return await self.http.get(REDIRECT_PATH, params={"code": code, "state": state})

    async def install(self, team: str, token: str) -> None:
        """Run a whole install of workspace `team` and let its background linking finish."""
        self.api.grant(f"code-{team}", team, token)
        state = await self.begin()
        assert (await self.redirect(f"code-{team}", state)).status_code == 200
        await self.plugin.inbound.drain()

    async def rows(self, model: type[object]) -> list[object]:
        async with self.sessions() as session:
            return list(await session.scalars(select(model)))


@pytest.fixture
async def installs(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], slack_api: FakeSlackApi
) -> AsyncIterator[Installs]:
    runtime = slack_runtime(
        engine,
        sessions,
        slack_api,
        slack_client_id=slack_api.client_id,
        slack_client_secret=SecretStr(slack_api.client_secret),
        public_url=PUBLIC_URL,
    )
    plugin = SlackPlugin(runtime)
    app = Starlette(routes=plugin.routes())
    transport = httpx.ASGITransport(app=app)
    # https, so the browser keeps the Secure state cookie as a real one would.
    async with httpx.AsyncClient(transport=transport, base_url="https://slack.test") as http:
        yield Installs(slack_api, plugin, http, sessions, runtime.clock)
        await plugin.stop()


def test_our_tables_match_the_tables_slack_sdk_defines() -> None:
    """The stores work against our migrated tables only if names and columns agree."""
    theirs = MetaData()
    expected = [
        SQLAlchemyInstallationStore.build_installations_table(theirs, "slack_installations"),
        SQLAlchemyInstallationStore.build_bots_table(theirs, "slack_bots"),
        SQLAlchemyOAuthStateStore.build_oauth_states_table(theirs, "slack_oauth_states"),
    ]
    ours: list[Table] = [
        SlackInstallation.__table__,  # type: ignore[list-item]
        SlackBot.__table__,  # type: ignore[list-item]
        SlackOAuthState.__table__,  # type: ignore[list-item]
    ]
    for their_table, our_table in zip(expected, ours, strict=True):
        assert our_table.name == their_table.name

        def shape(table: Table) -> dict[str, tuple[str, bool, bool]]:
            return {
                c.name: (repr(c.type), bool(c.nullable), bool(c.primary_key)) for c in table.columns
            }

        assert shape(our_table) == shape(their_table)
        assert {i.name for i in our_table.indexes} == {i.name for i in their_table.indexes}


async def test_an_install_stores_the_workspace_and_its_events_are_answered_with_its_token(
    installs: Installs,
) -> None:
    await build_world(installs.sessions, installs.api, link=False)
    page = await installs.http.get(INSTALL_PATH)
    state = installs.http.cookies[COOKIE]
    (stored,) = await installs.rows(SlackOAuthState)
    assert stored.state == state  # type: ignore[attr-defined]
    authorize = next(
        parse_qs(urlparse(link).query)
        for link in html.unescape(page.text).split('"')
        if link.startswith("https://slack.com/oauth/v2/authorize")
    )
    assert set(authorize["scope"][0].split(",")) == required_scopes()
    assert authorize["redirect_uri"] == [PUBLIC_URL + REDIRECT_PATH]
    assert authorize["state"] == [state]

    installs.api.grant("code-1", TEAM_TWO, TOKEN_TWO)
    done = await installs.redirect("code-1", state)
    assert done.status_code == 200
    await installs.plugin.inbound.drain()

    (installation,) = await installs.rows(SlackInstallation)
    (bot,) = await installs.rows(SlackBot)
    assert (installation.team_id, installation.bot_token) == (TEAM_TWO, TOKEN_TWO)  # type: ignore[attr-defined]
    assert (bot.team_id, bot.bot_token) == (TEAM_TWO, TOKEN_TWO)  # type: ignore[attr-defined]
    assert await installs.rows(SlackOAuthState) == []  # consumed

    slack = SlackClient(installs.http, SIGNING_SECRET)
    installs.api.add_channel("D1")
    event = {"type": "message", "channel": "D1", "channel_type": "im", "user": "U1", "text": "hei"}
    assert (await slack.event(event, team=TEAM_TWO)).status_code == 200
    await installs.plugin.inbound.drain()

    assert installs.api.tokens_of("chat.postMessage") == [TOKEN_TWO]
    async with installs.sessions() as session:
        identity = await session.scalar(select(Identity).where(Identity.external_id == "U1"))
    assert identity is not None
    assert identity.address == {"user": "U1", "channel": "D1", "team": TEAM_TWO}


async def test_an_unknown_or_used_state_is_refused_and_stores_nothing(
    installs: Installs,
) -> None:
    state = await installs.begin()
    installs.api.grant("code-1", TEAM_TWO, TOKEN_TWO)
    installs.api.grant("code-2", TEAM_TWO, TOKEN_TWO)

    # A state we never issued, with a cookie to match, as a forger would send it.
    installs.http.cookies.set(COOKIE, "made-up-state", domain="slack.test")
    unknown = await installs.redirect("code-1", "made-up-state")
    assert unknown.status_code == 401
    assert await installs.rows(SlackInstallation) == []

    installs.http.cookies.set(COOKIE, state, domain="slack.test")
    assert (await installs.redirect("code-1", state)).status_code == 200
    installs.http.cookies.set(COOKIE, state, domain="slack.test")
    replayed = await installs.redirect("code-2", state)
    assert replayed.status_code == 401
    assert len(await installs.rows(SlackInstallation)) == 1
    assert "code-2" in installs.api.grants  # never exchanged


async def test_an_event_from_a_workspace_that_never_installed_is_not_answered(
    installs: Installs,
) -> None:
    await build_world(installs.sessions, installs.api, link=False)
    await installs.install(TEAM_TWO, TOKEN_TWO)
    installs.api.add_channel("D1")
    slack = SlackClient(installs.http, SIGNING_SECRET)
    event = {"type": "message", "channel": "D1", "channel_type": "im", "user": "U1", "text": "hei"}
    await slack.event(event, team="T0000099")
    await installs.plugin.inbound.drain()
    assert installs.api.calls_to("chat.postMessage") == []


async def test_prompts_go_out_with_each_workspaces_token_and_a_thread_reply_is_stored(
    installs: Installs,
) -> None:
    world = await build_world(installs.sessions, installs.api, link=False)
    await installs.install(TEAM_TWO, TOKEN_TWO)  # links the roster by email in that team
    assert set(installs.api.tokens_of("users.lookupByEmail")) == {TOKEN_TWO}

    await tick(installs.sessions, installs.clock)
    channels = {"slack": installs.plugin.channel}
    await Dispatcher(installs.sessions, channels, OutboxRenderer(), installs.clock).run_once()

    assert installs.api.tokens_of("chat.postMessage") == [TOKEN_TWO] * len(LEADERS)
    async with installs.sessions() as session:
        refs = list(
            await session.scalars(select(Delivery.message_ref).where(Delivery.kind == "prompt"))
        )
    assert len(refs) == len(LEADERS)
    assert all(ref is not None and ref.startswith(f"{TEAM_TWO}:D") for ref in refs)

    ref = next(r for r in refs if r is not None and r.startswith(f"{TEAM_TWO}:D1:"))
    _, channel, ts = ref.split(":")
    reply = {
        "type": "message",
        "channel": channel,
        "channel_type": "im",
        "user": "U1",
        "text": "Jeg ba om hjelp.",
        "ts": "1800000000.000100",
        "thread_ts": ts,
    }
    slack = SlackClient(installs.http, SIGNING_SECRET)
    assert (await slack.event(reply, team=TEAM_TWO)).status_code == 200
    await installs.plugin.inbound.drain()

    (answer,) = await installs.rows(Answer)
    assert answer.person_id == world.people["U1"]  # type: ignore[attr-defined]
    (update,) = installs.api.calls_to("chat.update")
    assert (update["channel"], update["ts"]) == (channel, ts)
    assert installs.api.tokens_of("chat.update") == [TOKEN_TWO]
