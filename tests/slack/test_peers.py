"""Peer rounds in Slack: a trio meets in one group DM, and each says whether they met."""

from __future__ import annotations

from datetime import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.slack.channel import SlackChannel
from bot.clock import FrozenClock
from bot.services.render import OutboxRenderer
from scheduler.dispatcher import Dispatcher
from scheduler.tick import tick
from scheduler.timing import TickOptions
from storage.models import Audience, Cohort, Delivery, Identity, PeerMatchMember, PeerSeries
from tests.fakes.slack_api import FakeSlackApi
from tests.slack.conftest import signed_app
from tests.slack.world import AFTER_FIRING, MONDAY, block_text, build_world, buttons

OPTIONS = TickOptions(weekly_digests=False)


async def add_trio_series(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        cohort = await session.scalar(select(Cohort))
        assert cohort is not None
        series = PeerSeries(
            key="trio",
            group_size=3,
            weekdays="mon",
            local_time=time(8, 30),
            start_date=MONDAY,
            mix_units=False,
            follow_up_days=7,
        )
        session.add(series)
        await session.flush()
        session.add(Audience(owner_kind="peer_series", owner_id=series.id, cohort_id=cohort.id))


async def test_a_trio_is_introduced_in_one_group_dm_and_each_answers_whether_they_met(
    sessions: async_sessionmaker[AsyncSession], slack_api: FakeSlackApi, slack_channel: SlackChannel
) -> None:
    clock = FrozenClock(AFTER_FIRING)
    async with signed_app(sessions, slack_channel, clock) as (inbound, slack):
        world = await build_world(sessions, slack_api)
        await add_trio_series(sessions)
        report = await tick(sessions, clock, OPTIONS)
        assert (report.peer_rounds_matched, report.peer_intros) == (1, 1)
        dispatcher = Dispatcher(sessions, {"slack": slack_channel}, OutboxRenderer(), clock)
        await dispatcher.run_once()

        group_opens = [c for c in slack_api.calls_to("conversations.open") if "," in c["users"]]
        assert [sorted(c["users"].split(",")) for c in group_opens] == [["U1", "U2", "U3"]]
        async with sessions() as session:
            intro = await session.scalar(select(Delivery).where(Delivery.kind == "intro"))
        assert intro is not None and intro.status == "sent" and intro.person_id is None
        channel, ts = str(intro.message_ref).split(":")
        text = block_text(slack_api.messages[(channel, ts)]["blocks"])
        # The trio writes nb, nn and en, so the shared message is in bokmål, the default.
        assert channel.startswith("G") and "Denne runden er dere 3 satt sammen" in text
        assert all(f"Leder {user}" in text for user in ("U1", "U2", "U3"))

        clock.advance(days=7)
        await tick(sessions, clock, OPTIONS)
        await dispatcher.run_once()
        async with sessions() as session:
            check = await session.scalar(
                select(Delivery).where(
                    Delivery.kind == "meeting_check",
                    Delivery.match_id == intro.match_id,
                    Delivery.person_id == world.people["U1"],
                )
            )
        assert check is not None and check.status == "sent"
        ref = str(check.message_ref)
        check_channel, check_ts = ref.split(":")
        blocks = slack_api.messages[(check_channel, check_ts)]["blocks"]
        met = next(b for b in buttons(blocks) if b["text"]["text"].startswith(("Ja", "Yes")))
        response = await slack.interact(slack.click("U1", ref, met))
        assert response.status_code == 200
        await inbound.drain()
        async with sessions() as session:
            members = await session.scalars(
                select(PeerMatchMember).where(PeerMatchMember.match_id == intro.match_id)
            )
            answers = {m.person_id: m.met for m in members}
        assert answers[world.people["U1"]] == "yes"
        assert answers[world.people["U2"]] is None  # each member answers for themself


async def test_a_member_not_on_slack_gets_introductions_one_by_one(
    sessions: async_sessionmaker[AsyncSession], slack_api: FakeSlackApi, slack_channel: SlackChannel
) -> None:
    clock = FrozenClock(AFTER_FIRING)
    async with signed_app(sessions, slack_channel, clock):
        world = await build_world(sessions, slack_api)
        await add_trio_series(sessions)
        async with sessions() as session, session.begin():
            identity = await session.scalar(
                select(Identity).where(Identity.person_id == world.people["U2"])
            )
            assert identity is not None
            identity.status = "unreachable"
        report = await tick(sessions, clock, OPTIONS)
        assert report.peer_intros == 3
        await Dispatcher(sessions, {"slack": slack_channel}, OutboxRenderer(), clock).run_once()
        assert not [c for c in slack_api.calls_to("conversations.open") if "," in c["users"]]
        async with sessions() as session:
            statuses = sorted(
                (d.person_id, d.status)
                for d in await session.scalars(select(Delivery).where(Delivery.kind == "intro"))
            )
        unreachable = world.people["U2"]
        assert [s for p, s in statuses if p != unreachable] == ["sent", "sent"]
