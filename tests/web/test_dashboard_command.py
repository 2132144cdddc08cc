"""The `dashboard` chat command gives a coach a working sign-in link; leaders get none."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.core.conversation import Policy
from bot.core.messages import Interaction, InteractionKind
from bot.handlers.registry import build_router
from bot.settings import get_settings
from storage.models import Identity
from tests.web import world as w


async def test_a_coach_gets_a_link_that_signs_in_once(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], db_url: str
) -> None:
    world = await w.build_world(sessions)
    router = build_router(sessions, FrozenClock(w.NOW), w.SECRET, Policy())
    # The leader's Slack identity exists in the world; give coach A one too.
    async with sessions() as session:
        session.add(Identity(person_id=world.coach_a.id, platform="slack", external_id="UCOACHA"))
        await session.commit()
    command = Interaction("slack", "UCOACHA", InteractionKind.COMMAND, command="dashboard")
    (reply,) = await router.handle(command)
    assert reply.ephemeral and reply.message.tag == "dashboard_link"
    prefix = f"{get_settings().public_url.rstrip('/')}/dashboard/login?code="
    link = reply.message.text.split(": ", 1)[1]
    assert link.startswith(prefix)
    runtime = w.make_runtime(engine, sessions, db_url)
    async with w.client(w.make_app(runtime)) as http:
        signed = await w.sign_in(
            http, w.PUBLIC_URL + link.removeprefix(get_settings().public_url.rstrip("/"))
        )
        assert signed.status_code == 303
        assert (await http.get("/dashboard/")).status_code == 200

    leader = Interaction("slack", w.SLACK_ID, InteractionKind.COMMAND, command="dashboard")
    (refused,) = await router.handle(leader)
    assert "/dashboard/login" not in refused.message.text
