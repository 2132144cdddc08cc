"""A running Teams side for tests: the real Agents SDK behind the real HTTP app, the fake
Bot Connector on loopback, and helpers that build activities the way Teams sends them."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import enabled_plugins
from bot.channels.teams.cards import CONTENT_TYPE
from bot.channels.teams.plugin import TeamsPlugin, build_plugin
from bot.clock import FrozenClock
from bot.handlers.registry import build_router
from bot.runtime import Runtime
from bot.services.render import OutboxRenderer
from bot.settings import Settings
from bot.web.server import build_app
from scheduler.dispatcher import Dispatcher
from storage.models import Delivery, Occurrence, Person
from tests import factories
from tests.fakes.teams_connector import FakeConnector

SECRET = "teams-test-secret"
TENANT = "72f988bf-0000-4000-8000-000000000001"
BOT = {"id": "28:tenkepause-bot", "name": "Tenkepause"}
NOW = factories.T0
AUTO = "<sign a valid token>"
_ids = itertools.count(1)


@dataclass(frozen=True)
class TeamsUser:
    """A Teams user: the 29: id activities carry, the AAD object id, and the roster email."""

    name: str
    email: str
    aad: str
    id: str

    @property
    def chat(self) -> str:
        """Return the id of this user's 1:1 conversation with the bot."""
        return f"a:1-personal-{self.aad}"


def teams_user(name: str) -> TeamsUser:
    """Return a user whose email matches a roster person created with the same name."""
    n = next(_ids)
    slug = name.lower().replace(" ", ".")
    return TeamsUser(name, f"{slug}@trondheim.example", f"aad-{n:04d}-{slug}", f"29:{n}-{slug}")


@dataclass
class TeamsActivities:
    """Build activities the way Teams sends them, naming the fake connector as serviceUrl."""

    connector: FakeConnector

    def activity(
        self, user: TeamsUser, conversation: str, kind: str = "personal", **values: Any
    ) -> dict[str, Any]:
        """Return the envelope every activity shares."""
        activity: dict[str, Any] = {
            "type": "message",
            "id": f"1712{next(_ids):08d}",
            "timestamp": NOW.isoformat(),
            "serviceUrl": self.connector.service_url,
            "channelId": "msteams",
            "from": {"id": user.id, "name": user.name, "aadObjectId": user.aad},
            "conversation": {
                "id": conversation,
                "conversationType": kind,
                "tenantId": TENANT,
                **({"isGroup": True} if kind != "personal" else {}),
            },
            "recipient": dict(BOT),
            "locale": "en-US",
            "channelData": {"tenant": {"id": TENANT}},
        }
        activity.update(values)
        return activity

    def installed(self, user: TeamsUser) -> dict[str, Any]:
        """Return the conversationUpdate Teams sends when a user installs the app."""
        return self.activity(user, user.chat, type="conversationUpdate", membersAdded=[BOT])

    def message(
        self, user: TeamsUser, text: str, conversation: str | None = None, kind: str = "personal"
    ) -> dict[str, Any]:
        """Return a typed message."""
        return self.activity(user, conversation or user.chat, kind, text=text, textFormat="plain")

    def mention(self, user: TeamsUser, text: str, conversation: str) -> dict[str, Any]:
        """Return a channel message that @mentions the bot, as channel messages must."""
        at = f"<at>{BOT['name']}</at>"
        entity = {"type": "mention", "text": at, "mentioned": dict(BOT)}
        return self.activity(
            user,
            conversation,
            "channel",
            text=f"{at} {text}",
            textFormat="plain",
            entities=[entity],
        )

    def submit(
        self,
        user: TeamsUser,
        data: dict[str, Any],
        reply_to: str,
        conversation: str | None = None,
        **inputs: Any,
    ) -> dict[str, Any]:
        """Return the message Teams posts when an Action.Submit with `data` is pressed.

        Teams merges the card's input values into the action's data, and sets replyToId
        to the card's activity.
        """
        return self.activity(
            user, conversation or user.chat, value={**data, **inputs}, replyToId=reply_to
        )


@dataclass
class TeamsWorld(TeamsActivities):
    """The runtime, the HTTP client and the fake connector."""

    runtime: Runtime
    plugin: TeamsPlugin
    client: httpx.AsyncClient
    clock: FrozenClock
    app_id: str | None = None

    # -- driving ----------------------------------------------------------------------------

    async def post(self, activity: dict[str, Any], token: str | None = AUTO) -> httpx.Response:
        """POST an activity to /teams/messages and wait for the work it scheduled.

        With an app id the fake connector signs a valid token unless `token` is given.
        """
        if token == AUTO:
            token = self.connector.token(self.app_id) if self.app_id else None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.client.post("/teams/messages", json=activity, headers=headers)
        await self.plugin.inbound.drain()
        return response

    def dispatcher(self) -> Dispatcher:
        """Return the real outbox dispatcher, sending through the Teams channel."""
        return Dispatcher(
            sessions=self.runtime.sessions,
            channels={"teams": self.plugin.channel},
            renderer=OutboxRenderer(),
            clock=self.clock,
            instance="teams-test",
        )

    async def dispatch_all(self) -> None:
        """Run the dispatcher until nothing is due."""
        dispatcher = self.dispatcher()
        while await dispatcher.run_once():
            pass

    async def count(self, model: type[Any], *where: Any) -> int:
        """Return how many rows of `model` match."""
        async with self.runtime.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(model).where(*where)))


def settings(connector: FakeConnector, **overrides: object) -> Settings:
    """Return settings that point the Teams channel at the fake connector."""
    values: dict[str, object] = {
        "TENKEPAUSE_SECRET_KEY": SECRET,
        "TEAMS_SERVICE_URL": connector.service_url,
        # Anonymous activities (no token, so no serviceurl claim) may name the loopback fake.
        "TEAMS_ALLOWED_SERVICE_HOSTS": "127.0.0.1",
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class WorldFactory:
    """Build worlds on one database, e.g. with and without an app id."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    connector: FakeConnector
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    async def build(self, **options: Any) -> TeamsWorld:
        """Return a world; `options` are settings overrides and plugin keywords."""
        plugin_options = {k: options.pop(k) for k in list(options) if k == "provider"}
        clock = FrozenClock(NOW)
        runtime = Runtime(settings(self.connector, **options), self.engine, self.sessions, clock)
        runtime.router = build_router(
            self.sessions, clock, SECRET, runtime.settings.conversation_policy()
        )
        plugin = build_plugin(runtime, **plugin_options)
        runtime.plugins = {**enabled_plugins(runtime), "teams": plugin}
        transport = httpx.ASGITransport(app=build_app(runtime))
        client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        self.clients.append(client)
        app_id = runtime.settings.teams_app_id
        return TeamsWorld(self.connector, runtime, plugin, client, clock, app_id)

    async def close(self) -> None:
        """Close every client."""
        for client in self.clients:
            await client.aclose()


async def roster_member(world: TeamsWorld, name: str, **values: Any) -> tuple[TeamsUser, Person]:
    """Create a roster person and the Teams user, with their email, the connector knows."""
    user = teams_user(name)
    world.connector.member(user.id, email=user.email, name=user.name, aad=user.aad)
    async with world.runtime.sessions() as session, session.begin():
        values.setdefault("locale", "en")
        person = await factories.person(session, email=user.email, name=user.name, **values)
    return user, person


async def scheduled_occurrence(
    sessions: async_sessionmaker[AsyncSession],
    people: list[Person],
    text: str = "What did you learn this week?",
) -> Occurrence:
    """Put one due occurrence of a reflection prompt in the outbox for each person."""
    async with sessions() as session, session.begin():
        prompt = await factories.prompt(session, text={"en": text, "nb": text})
        occurrence = Occurrence(prompt_id=prompt.id, send_at=NOW, local_date=NOW.date())
        session.add(occurrence)
        await session.flush()
        session.add_all(
            Delivery(
                key=f"occ:{occurrence.id}:{person.id}",
                kind="prompt",
                person_id=person.id,
                occurrence_id=occurrence.id,
                prompt_id=prompt.id,
                due_at=NOW,
                next_attempt_at=NOW,
                expires_at=NOW + timedelta(days=2),
                payload={"visibility": "coach"},
            )
            for person in people
        )
    return occurrence


async def install(world: TeamsWorld, name: str, **values: Any) -> tuple[TeamsUser, Person]:
    """Create a roster person and have them install the app in Teams (which links them)."""
    user, person = await roster_member(world, name, **values)
    response = await world.post(world.installed(user))
    assert response.status_code == 202
    return user, person


def card_of(body: dict[str, Any]) -> dict[str, Any]:
    """Return the Adaptive Card of a posted activity."""
    [attachment] = body["attachments"]
    assert attachment["contentType"] == CONTENT_TYPE
    content: dict[str, Any] = attachment["content"]
    return content


def actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    """Return every Action.Submit of a card, in order."""
    return [
        action
        for element in card["body"]
        if element["type"] == "ActionSet"
        for action in element["actions"]
    ]


def submit_action(card: dict[str, Any]) -> dict[str, Any]:
    """Return the card's one Action.Submit that sends its answer form."""
    [submit] = [a for a in actions(card) if a["data"].get("kind") == "submit"]
    return submit


def texts(card: dict[str, Any]) -> list[str]:
    """Return the text of every TextBlock of a card."""
    return [element["text"] for element in card["body"] if element["type"] == "TextBlock"]
