"""Attacks on visibility: a follow-up or typed text must never widen what a leader shared.

The attacker is a coach or admin with the dashboard, the exports and the digest. The leader
answers "only me" and then does what leaders do: goes one step further, leaves the form's
preselection alone, types a command, taps around. Every coach path must still show nothing,
and every card must show what is stored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.core import compose, compose_pulse
from bot.core.messages import Interaction, InteractionKind, OutMessage
from bot.handlers.context import Reply
from bot.handlers.registry import build_router
from bot.handlers.router import Router
from bot.i18n import gettext_for
from bot.runtime import Runtime
from bot.services import digest, exports
from storage.models import Answer, Delivery, Person, PulseResponse
from tests import factories
from tests.web import world as w

SECRET_MAIN = "ONLY-ME-MAIN-6120"
SECRET_FOLLOW_UP = "ONLY-ME-FOLLOWUP-6121"
# Every command word a leader might type, in bokmål, nynorsk and English (stop comes last).
COMMAND_WORDS = [
    "hjelp",
    "help",
    "/help",
    "/start",
    "/hjelp",
    "?",
    "pause",
    "fortsett",
    "hald fram",
    "resume",
    "språk",
    "language",
    "mine svar",
    "svara mine",
    "my answers",
    "endre",
    "avbryt",
    "angre",
    "dashboard",
    "/foo",
    "stopp",
]


@dataclass
class Scene:
    """The dashboard world, a fresh prompt for its Slack-linked leader, and the router."""

    runtime: Runtime
    world: w.World
    http: httpx.AsyncClient
    router: Router
    delivery: Delivery

    async def act(self, kind: InteractionKind, **values: object) -> list[Reply]:
        interaction = Interaction("slack", w.SLACK_ID, kind, **values)  # type: ignore[arg-type]
        return await self.router.handle(interaction)

    async def stored(self) -> dict[str, tuple[str, str]]:
        async with self.runtime.sessions() as session:
            rows = await session.scalars(
                select(Answer).where(Answer.delivery_id == self.delivery.id)
            )
            return {a.stage: (a.text, a.visibility) for a in rows}


@pytest.fixture
async def scene(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], db_url: str
) -> AsyncIterator[Scene]:
    world = await w.build_world(sessions)
    runtime = w.make_runtime(engine, sessions, db_url)
    async with sessions.begin() as session:
        leader = await session.get(Person, world.leader.id)
        delivery = await factories.sent_delivery(
            session,
            leader,
            await factories.prompt(session),
            sent_at=w.NOW - timedelta(hours=1),
            message_ref=f"D{w.SLACK_ID}:9999.000",
        )
    router = build_router(
        sessions, runtime.clock, runtime.secret, runtime.settings.conversation_policy()
    )
    async with w.client(w.make_app(runtime)) as http:
        yield Scene(runtime, world, http, router, delivery)


def label(visibility: str) -> str:
    return compose.visibility_label(gettext_for("en"), visibility)


def card(replies: list[Reply], ref: str) -> OutMessage:
    [updated] = [r.message for r in replies if r.replace == ref]
    return updated


async def answer_only_me(scene: Scene) -> None:
    """Answer the prompt with "only me" on its form, changed from the coach preselection."""
    value = compose.form_value(scene.delivery.id, "coach")
    await scene.act(
        InteractionKind.SUBMIT,
        action=compose.ANSWER,
        value=value,
        text=SECRET_MAIN,
        fields={"visibility": "private"},
    )
    assert (await scene.stored())["main"] == (SECRET_MAIN, "private")


async def everything_a_coach_sees(scene: Scene) -> str:
    """Collect each coach and admin path: pages, timelines, exports, CLI export, digest."""
    bodies: list[str] = []
    cohort = scene.world.cohort_a
    for who in (scene.world.coach_a, scene.world.admin):
        scene.http.cookies.clear()
        link = await w.login_link(scene.runtime, who)
        assert (await w.sign_in(scene.http, link)).status_code == 303
        home = await scene.http.get(f"/dashboard/cohorts/{cohort}")
        bodies += [(await scene.http.get("/dashboard/")).text, home.text]
        timeline = f"/dashboard/cohorts/{cohort}/people/{scene.world.leader.id}"
        bodies.append((await scene.http.get(timeline)).text)
        for fmt in ("csv", "json"):
            for research in ("", "1"):
                response = await scene.http.post(
                    f"/dashboard/cohorts/{cohort}/export",
                    data={
                        "csrf_token": w.csrf_token(home.text),
                        "kind": "answers",
                        "format": fmt,
                        "research": research,
                    },
                )
                assert response.status_code == 200
                bodies.append(response.text)
    async with scene.runtime.sessions.begin() as session:
        request = exports.ExportRequest(exports.ExportKind.ANSWERS, with_text=True)
        operator = await exports.build_export(
            session, request, secret=w.SECRET, now=w.NOW, actor=None
        )
        bodies.append(exports.serialise(operator, exports.ExportFormat.JSON))
        coach = await session.get(Person, scene.world.coach_a.id)
        assert coach is not None
        payload = await digest.digest_payload(session, coach, w.NOW + timedelta(hours=1))
        bodies.append(str(payload))
    return "\n".join(bodies)


async def shared_count(scene: Scene) -> int:
    async with scene.runtime.sessions() as session:
        coach = await session.get(Person, scene.world.coach_a.id)
        assert coach is not None
        payload = await digest.digest_payload(session, coach, w.NOW + timedelta(hours=1))
    return sum(int(c["new_shared"]) for c in payload["cohorts"])


async def test_a_follow_up_typed_as_a_reply_to_a_private_answer_stays_private(
    scene: Scene,
) -> None:
    shared_before = await shared_count(scene)
    await answer_only_me(scene)
    [follow_up] = await scene.act(
        InteractionKind.BUTTON, action=compose.FOLLOW_UP, value=str(scene.delivery.id)
    )
    assert follow_up.message.ask is not None
    assert follow_up.message.ask.default_visibility == "private"  # preselects the parent's
    replies = await scene.act(InteractionKind.TEXT, text=SECRET_FOLLOW_UP)
    assert (await scene.stored())["follow_up"] == (SECRET_FOLLOW_UP, "private")
    shown = card(replies, str(scene.delivery.message_ref))
    assert shown.context == (f"Answered. Visible to: {label('private')}.",)
    seen = await everything_a_coach_sees(scene)
    assert SECRET_MAIN not in seen and SECRET_FOLLOW_UP not in seen
    assert w.SHARED_TEXT in seen  # the paths do show shared answers: the scan is real
    assert await shared_count(scene) == shared_before


async def test_a_follow_up_form_left_on_a_stale_coach_preselection_stays_private(
    scene: Scene,
) -> None:
    await answer_only_me(scene)
    # A follow-up form rendered before the answer became private preselected "coach".
    await scene.act(
        InteractionKind.SUBMIT,
        action=compose.FOLLOW_UP,
        value=compose.form_value(scene.delivery.id, "coach"),
        text=SECRET_FOLLOW_UP,
        fields={"visibility": "coach"},
    )
    assert (await scene.stored())["follow_up"] == (SECRET_FOLLOW_UP, "private")
    seen = await everything_a_coach_sees(scene)
    assert SECRET_FOLLOW_UP not in seen and SECRET_MAIN not in seen


async def test_only_an_explicit_choice_widens_a_follow_up_and_the_card_says_so(
    scene: Scene,
) -> None:
    await answer_only_me(scene)
    replies = await scene.act(
        InteractionKind.SUBMIT,
        action=compose.FOLLOW_UP,
        value=compose.form_value(scene.delivery.id, "private"),
        text="Shared on purpose",
        fields={"visibility": "coach"},  # the leader changed the preselection
    )
    assert await scene.stored() == {
        "main": (SECRET_MAIN, "private"),
        "follow_up": ("Shared on purpose", "coach"),
    }
    shown = card(replies, str(scene.delivery.message_ref))
    assert shown.context == (
        f"Answered. Visible to: {label('private')}.",
        f"Follow-up visible to: {label('coach')}.",
    )
    seen = await everything_a_coach_sees(scene)
    assert "Shared on purpose" in seen and SECRET_MAIN not in seen


async def test_narrowing_the_answer_narrows_its_follow_up_and_both_cards_tell_the_truth(
    scene: Scene,
) -> None:
    await scene.act(InteractionKind.TEXT, text="Main, coach by default")
    await scene.act(InteractionKind.BUTTON, action=compose.FOLLOW_UP, value=str(scene.delivery.id))
    await scene.act(InteractionKind.TEXT, text=SECRET_FOLLOW_UP)
    async with scene.runtime.sessions() as session:
        main = await session.scalar(
            select(Answer).where(Answer.delivery_id == scene.delivery.id, Answer.stage == "main")
        )
    assert main is not None
    replies = await scene.act(
        InteractionKind.BUTTON, action=compose.VISIBILITY, value=f"{main.id}.private"
    )
    assert {stage: vis for stage, (_, vis) in (await scene.stored()).items()} == {
        "main": "private",
        "follow_up": "private",
    }
    shown = card(replies, str(scene.delivery.message_ref))
    assert shown.context == (f"Answered. Visible to: {label('private')}.",)
    assert SECRET_FOLLOW_UP not in await everything_a_coach_sees(scene)


@pytest.mark.parametrize("moment", ["after_prompt", "after_answer", "after_follow_up_button"])
async def test_typed_commands_are_never_stored_as_answers(scene: Scene, moment: str) -> None:
    if moment != "after_prompt":
        await answer_only_me(scene)
    if moment == "after_follow_up_button":
        await scene.act(
            InteractionKind.BUTTON, action=compose.FOLLOW_UP, value=str(scene.delivery.id)
        )
    before = await scene.stored()
    for word in COMMAND_WORDS:
        await scene.act(InteractionKind.TEXT, text=word)
        # In the prompt's thread too: a reply that is a command is still a command.
        await scene.act(InteractionKind.TEXT, text=word, reply_to=scene.delivery.message_ref)
    assert await scene.stored() == before
    async with scene.runtime.sessions() as session:
        texts = set(await session.scalars(select(Answer.text)))
    assert not texts & set(COMMAND_WORDS)


async def test_typed_commands_after_a_pulse_do_not_touch_its_answers(scene: Scene) -> None:
    async with scene.runtime.sessions.begin() as session:
        _, [pulse] = await factories.open_pulse(
            session, [scene.world.leader.id], kind="text", opens_at=w.NOW - timedelta(hours=1)
        )
        pulse.status, pulse.platform, pulse.message_ref = "sent", "slack", f"D{w.SLACK_ID}:77.0"
        pulse.sent_at = w.NOW - timedelta(hours=1)
    await scene.act(InteractionKind.BUTTON, action=compose_pulse.PULSE_GOTO, value=f"{pulse.id}.0")
    await scene.act(InteractionKind.TEXT, text="Pulse free text")
    for word in COMMAND_WORDS:
        await scene.act(InteractionKind.TEXT, text=word)
        await scene.act(InteractionKind.TEXT, text=word, reply_to=pulse.message_ref)
    async with scene.runtime.sessions() as session:
        texts = [
            text
            for row in await session.scalars(select(PulseResponse))
            if (text := factories.opened(row, scene.runtime.secret).value_text) is not None
        ]
        answer_texts = set(await session.scalars(select(Answer.text)))
    assert texts == ["Pulse free text"]
    assert not answer_texts & set(COMMAND_WORDS)
