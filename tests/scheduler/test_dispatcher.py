"""The outbox dispatcher on SQLite and PostgreSQL: claim, route, send, retry, record."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.channels.port import (
    Address,
    PermanentFailure,
    RateLimited,
    SendError,
    TemporaryFailure,
)
from bot.channels.recording import RecordingChannel
from bot.clock import FrozenClock, SystemClock
from bot.core.messages import OutMessage
from scheduler.dispatcher import NO_CHANNEL, Dispatcher
from scheduler.liveness import Heartbeat
from scheduler.metrics import REGISTRY
from scheduler.rate_limits import Rate, RateLimiter
from scheduler.retry_policy import RetryPolicy
from storage.models import Delivery, GroupChat, Identity, PeerGroup, Person
from tests.fakes.flaky_platform import FlakyPlatform
from tests.fakes.http_channel import FakeHttpChannel
from tests.fakes.key_renderer import KeyRenderer
from tests.scheduler.outbox_seed import seed_outbox

NOW = datetime(2027, 3, 1, 7, 30, tzinfo=UTC)
Sessions = async_sessionmaker[AsyncSession]


def dispatcher(
    sessions: Sessions, channels: dict[str, object], clock: object = None, **options: object
) -> Dispatcher:
    """Return a dispatcher with no rate limits and a frozen clock unless told otherwise."""
    options.setdefault("limiter", RateLimiter.off())
    options.setdefault("retry", RetryPolicy(max_attempts=3, rng=random.Random(1)))
    return Dispatcher(
        sessions=sessions,
        channels=channels,  # type: ignore[arg-type]
        renderer=KeyRenderer(),
        clock=clock or FrozenClock(NOW),  # type: ignore[arg-type]
        instance="test-1",
        **options,  # type: ignore[arg-type]
    )


async def statuses(sessions: Sessions) -> dict[str, str]:
    """Return each delivery's status by key."""
    async with sessions() as session:
        return dict((await session.execute(select(Delivery.key, Delivery.status))).all())


async def row(sessions: Sessions, key: str) -> Delivery:
    """Load one delivery by key."""
    async with sessions() as session:
        return (await session.scalars(select(Delivery).where(Delivery.key == key))).one()


def metric(name: str, **labels: str) -> float:
    """Read one sample from the dispatcher's registry (0 when absent)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


@dataclass
class ScriptedChannel:
    """Raise the next scripted error per send (None = accept); records accepted texts."""

    platform: str = "webchat"
    script: list[BaseException | None] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)

    async def send(self, address: Address, message: OutMessage) -> str:
        """Fail or accept as scripted."""
        error = self.script.pop(0) if self.script else None
        if error is not None:
            raise error
        self.sent.append(message.text)
        return f"ref-{len(self.sent)}"

    async def update(self, message_ref: str, message: OutMessage) -> None:
        """Unused."""

    async def open_group(self, addresses: object) -> None:
        """Unused."""


async def test_sends_each_pending_row_once_and_records_refs(
    engine: AsyncEngine, sessions: Sessions
) -> None:
    await seed_outbox(engine, 5, NOW, platform="webchat")
    channel = RecordingChannel("webchat")
    before = metric("tenkepause_deliveries_sent_total", platform="webchat")

    first = await dispatcher(sessions, {"webchat": channel}, batch=3).run_once()
    second = await dispatcher(sessions, {"webchat": channel}, batch=3).run_once()
    third = await dispatcher(sessions, {"webchat": channel}, batch=3).run_once()

    assert (first, second, third) == (3, 2, 0)
    assert sorted(channel.texts()) == [f"p:{n}" for n in range(5)]
    assert sorted(s.address["chat"] for s in channel.sent) == [f"p{n}" for n in range(5)]
    async with sessions() as session:
        rows = (await session.scalars(select(Delivery))).all()
    refs = {sent.message.text: sent.ref for sent in channel.sent}
    for delivery in rows:
        assert delivery.status == "sent"
        assert delivery.message_ref == refs[delivery.key]
        assert (delivery.platform, delivery.sent_at, delivery.attempts) == ("webchat", NOW, 1)
        assert delivery.claimed_by is None
    assert metric("tenkepause_deliveries_sent_total", platform="webchat") == before + 5


async def test_rows_not_yet_due_are_left_alone(engine: AsyncEngine, sessions: Sessions) -> None:
    await seed_outbox(engine, 2, NOW + timedelta(minutes=1), platform="webchat")
    channel = RecordingChannel("webchat")
    clock = FrozenClock(NOW)

    assert await dispatcher(sessions, {"webchat": channel}, clock).run_once() == 0
    clock.advance(minutes=1)
    assert await dispatcher(sessions, {"webchat": channel}, clock).run_once() == 2
    assert len(channel.sent) == 2


async def test_expired_rows_are_not_sent(engine: AsyncEngine, sessions: Sessions) -> None:
    await seed_outbox(
        engine, 2, NOW - timedelta(days=3), "webchat", "old", NOW - timedelta(hours=1)
    )
    await seed_outbox(
        engine, 1, NOW - timedelta(days=3), "webchat", "new", NOW + timedelta(hours=1)
    )
    channel = RecordingChannel("webchat")
    before = metric("tenkepause_deliveries_expired_total")

    assert await dispatcher(sessions, {"webchat": channel}).run_once() == 3

    assert channel.texts() == ["new:0"]
    assert await statuses(sessions) == {"old:0": "expired", "old:1": "expired", "new:0": "sent"}
    assert metric("tenkepause_deliveries_expired_total") == before + 2


async def test_permanent_failure_marks_identity_unreachable_and_others_still_deliver(
    engine: AsyncEngine, sessions: Sessions
) -> None:
    await seed_outbox(engine, 4, NOW, platform="telegram")

    def blocked(address: Address) -> SendError | None:
        return PermanentFailure("bot was blocked by the user") if address["chat"] == "p2" else None

    channel = RecordingChannel("telegram", fail=blocked)
    before = metric("tenkepause_deliveries_failed_total", platform="telegram", reason="permanent")

    await dispatcher(sessions, {"telegram": channel}).run_once()
    assert await dispatcher(sessions, {"telegram": channel}).run_once() == 0

    assert sorted(channel.texts()) == ["p:0", "p:1", "p:3"]
    failed = await row(sessions, "p:2")
    assert (failed.status, failed.error) == ("failed", "bot was blocked by the user")
    async with sessions() as session:
        identities = dict(
            (await session.execute(select(Identity.external_id, Identity.status))).all()
        )
        reason = await session.scalar(
            select(Identity.status_reason).where(Identity.external_id == "p2")
        )
    assert identities == {"p0": "active", "p1": "active", "p2": "unreachable", "p3": "active"}
    assert reason == "bot was blocked by the user"
    after = metric("tenkepause_deliveries_failed_total", platform="telegram", reason="permanent")
    assert after == before + 1


async def test_routes_to_preferred_then_fallback_order_and_fails_without_channel(
    sessions: Sessions,
) -> None:
    async with sessions() as session, session.begin():
        people = {name: Person(email=f"{name}@k.example", name=name) for name in "abcde"}
        people["a"].preferred_platform = "telegram"
        session.add_all(people.values())
        await session.flush()
        accounts = {
            "a": ("slack", "telegram"),  # preferred telegram wins
            "b": ("telegram", "slack"),  # no preference: slack before telegram
            "c": ("slack", "telegram"),  # slack unreachable: falls back to telegram
            "d": ("teams",),  # no teams channel configured here
            "e": (),
        }
        for name, platforms in accounts.items():
            for platform in platforms:
                status = "unreachable" if (name, platform) == ("c", "slack") else "active"
                session.add(
                    Identity(
                        person_id=people[name].id,
                        platform=platform,
                        external_id=f"{name}-{platform}",
                        address={"chat": f"{name}-{platform}"},
                        status=status,
                    )
                )
            session.add(
                Delivery(
                    key=f"d:{name}",
                    kind="notice",
                    person_id=people[name].id,
                    due_at=NOW,
                    next_attempt_at=NOW,
                )
            )
    slack, telegram = RecordingChannel("slack"), RecordingChannel("telegram")

    await dispatcher(sessions, {"slack": slack, "telegram": telegram}).run_once()

    assert [s.address["chat"] for s in slack.sent] == ["b-slack"]
    assert sorted(s.address["chat"] for s in telegram.sent) == ["a-telegram", "c-telegram"]
    for name in "de":
        missing = await row(sessions, f"d:{name}")
        assert (missing.status, missing.error) == ("failed", NO_CHANNEL)


async def test_group_delivery_goes_to_the_group_chat(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        group = PeerGroup(name="kull-1-gruppe-1")
        session.add(group)
        await session.flush()
        session.add(
            GroupChat(
                group_id=group.id, platform="telegram", external_id="-100", address={"chat": "-100"}
            )
        )
        session.add(
            Delivery(
                key="group:1",
                kind="group_prompt",
                group_id=group.id,
                due_at=NOW,
                next_attempt_at=NOW,
            )
        )
    channel = RecordingChannel("telegram")

    await dispatcher(sessions, {"telegram": channel}).run_once()

    assert [(s.address, s.message.text) for s in channel.sent] == [({"chat": "-100"}, "group:1")]
    assert (await row(sessions, "group:1")).status == "sent"


async def test_rate_limited_is_rescheduled_after_retry_after_without_using_an_attempt(
    engine: AsyncEngine, sessions: Sessions
) -> None:
    await seed_outbox(engine, 1, NOW, platform="webchat")
    channel = ScriptedChannel(script=[RateLimited(7), RateLimited(7), None])
    clock = FrozenClock(NOW)

    await dispatcher(sessions, {"webchat": channel}, clock).run_once()
    waiting = await row(sessions, "p:0")
    assert (waiting.status, waiting.attempts, waiting.throttles) == ("pending", 0, 1)
    assert waiting.next_attempt_at == NOW + timedelta(seconds=7)
    assert await dispatcher(sessions, {"webchat": channel}, clock).run_once() == 0

    clock.advance(seconds=7)
    await dispatcher(sessions, {"webchat": channel}, clock).run_once()
    clock.advance(seconds=7)
    await dispatcher(sessions, {"webchat": channel}, clock).run_once()

    done = await row(sessions, "p:0")
    assert (done.status, done.attempts, done.throttles) == ("sent", 1, 2)
    assert channel.sent == ["p:0"]


async def test_endless_429s_are_capped(engine: AsyncEngine, sessions: Sessions) -> None:
    await seed_outbox(engine, 1, NOW, platform="webchat")
    channel = ScriptedChannel(script=[RateLimited(1)] * 3)
    clock = FrozenClock(NOW)
    retry = RetryPolicy(max_attempts=3, max_throttles=3)

    for _ in range(3):
        await dispatcher(sessions, {"webchat": channel}, clock, retry=retry).run_once()
        clock.advance(seconds=1)

    capped = await row(sessions, "p:0")
    assert (capped.status, capped.attempts, capped.throttles) == ("failed", 0, 3)


@pytest.mark.parametrize(
    "error",
    [TemporaryFailure("HTTP 502"), TimeoutError(), ConnectionResetError()],
    ids=["5xx", "timeout", "dropped"],
)
async def test_temporary_failures_back_off_with_jitter_then_fail_after_max_attempts(
    engine: AsyncEngine, sessions: Sessions, error: BaseException
) -> None:
    await seed_outbox(engine, 1, NOW, platform="webchat")
    channel = ScriptedChannel(script=[error] * 3)
    clock = FrozenClock(NOW)
    retry = RetryPolicy(max_attempts=3, base=1.0, cap=300.0, rng=random.Random(3))

    for attempt in (1, 2):
        await dispatcher(sessions, {"webchat": channel}, clock, retry=retry).run_once()
        waiting = await row(sessions, "p:0")
        assert (waiting.status, waiting.attempts) == ("pending", attempt)
        # Full jitter: anywhere from now to base·2^(attempt-1) seconds later.
        delay = (waiting.next_attempt_at - clock.now()).total_seconds()
        assert 0 <= delay <= 2 ** (attempt - 1)
        clock.current = waiting.next_attempt_at
    await dispatcher(sessions, {"webchat": channel}, clock, retry=retry).run_once()

    failed = await row(sessions, "p:0")
    assert (failed.status, failed.attempts) == ("failed", 3)
    assert failed.error is not None and failed.error.startswith("gave up after 3 attempts")
    assert channel.sent == []


async def test_stale_claims_return_to_pending_and_a_restart_recovers_its_own(
    engine: AsyncEngine, sessions: Sessions
) -> None:
    await seed_outbox(engine, 3, NOW, platform="webchat")
    async with sessions() as session, session.begin():
        await session.execute(
            update(Delivery)
            .where(Delivery.key == "p:0")
            .values(status="claimed", claimed_by="dead-1", claimed_at=NOW - timedelta(minutes=10))
        )
        await session.execute(
            update(Delivery)
            .where(Delivery.key == "p:1")
            .values(status="claimed", claimed_by="test-1", claimed_at=NOW)
        )
        await session.execute(
            update(Delivery)
            .where(Delivery.key == "p:2")
            .values(status="claimed", claimed_by="alive-2", claimed_at=NOW)
        )
    channel = RecordingChannel("webchat")
    worker = dispatcher(sessions, {"webchat": channel}, claim_timeout=300)

    assert await worker.run_once() == 1  # only the dead instance's stale claim
    assert await worker.recover() == 1  # our own earlier incarnation's claim
    assert await worker.run_once() == 1

    assert sorted(channel.texts()) == ["p:0", "p:1"]
    assert await statuses(sessions) == {"p:0": "sent", "p:1": "sent", "p:2": "claimed"}


async def test_claims_of_an_instance_whose_heartbeat_lapsed_go_back_within_seconds(
    engine: AsyncEngine, sessions: Sessions
) -> None:
    await seed_outbox(engine, 4, NOW, platform="webchat")
    clock = FrozenClock(NOW - timedelta(seconds=20))
    dead, alive = (Heartbeat(engine, name, clock, seconds=3) for name in ("host:101", "host:102"))
    await dead.beat()  # its last beat, 20 s ago: lapsed after 9 s
    clock.current = NOW
    await alive.beat()
    claims = {"p:0": ("host:101", 12), "p:1": ("host:102", 12), "p:2": ("host:101", 2)}
    claims["p:3"] = ("test-1", 12)  # the worker's own claim, though it has never beaten
    async with sessions() as session, session.begin():
        for key, (holder, age) in claims.items():
            await session.execute(
                update(Delivery)
                .where(Delivery.key == key)
                .values(
                    status="claimed", claimed_by=holder, claimed_at=NOW - timedelta(seconds=age)
                )
            )
    channel = RecordingChannel("webchat")
    # A restart under a new name: the five-minute timeout is far away, the heartbeat is not.
    worker = dispatcher(sessions, {"webchat": channel}, claim_timeout=300, orphan_grace=dead.ttl)

    assert await worker.run_once() == 1

    # The live instance keeps its claim; the dead one's fresh claim waits out the grace;
    # and a busy database that delayed our own heartbeat never makes us drop our claims.
    assert channel.texts() == ["p:0"]
    assert await statuses(sessions) == {
        "p:0": "sent",
        "p:1": "claimed",
        "p:2": "claimed",
        "p:3": "claimed",
    }
    # /metrics shows what is still held, and for how long: what an operator watches.
    await worker.refresh_depth()
    assert metric("tenkepause_outbox_claimed") == 3
    assert metric("tenkepause_outbox_oldest_claim_seconds") == 12


async def test_a_failed_commit_of_outcomes_is_retried_so_nothing_is_sent_twice(
    engine: AsyncEngine, sessions: Sessions
) -> None:
    await seed_outbox(engine, 3, NOW, platform="webchat")
    failures = [OperationalError("UPDATE deliveries", {}, Exception("database is locked"))]

    def fail_once(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if failures and statement.startswith("UPDATE deliveries") and "attempts=" in statement:
            raise failures.pop()

    event.listen(engine.sync_engine, "before_cursor_execute", fail_once)
    try:
        channel = RecordingChannel("webchat")
        assert await dispatcher(sessions, {"webchat": channel}).run_once() == 3
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", fail_once)

    assert failures == []  # the commit did fail once
    assert sorted(channel.texts()) == ["p:0", "p:1", "p:2"]
    assert set((await statuses(sessions)).values()) == {"sent"}


async def test_one_busy_chat_does_not_hold_the_slots_other_chats_wait_for(
    engine: AsyncEngine, sessions: Sessions
) -> None:
    await seed_outbox(engine, 10, NOW, platform="webchat")
    async with sessions() as session, session.begin():
        # The first five rows all go to one chat (a coach getting five notices at once).
        for n in range(5):
            await session.execute(
                update(Identity)
                .where(Identity.external_id == f"p{n}")
                .values(address={"chat": "coach"})
            )
    limiter = RateLimiter({"webchat": {"chat": Rate(1, 1)}})
    channel = RecordingChannel("webchat")
    worker = dispatcher(
        sessions, {"webchat": channel}, FrozenClock(NOW), limiter=limiter, concurrency=4
    )

    assert await worker.run_once() == 10

    # The five other chats were not kept waiting behind the coach's chat ...
    assert {f"p:{n}" for n in range(5, 10)} <= set(channel.texts())
    # ... whose later rows went back to the outbox, to go when that chat is free.
    left = {k: v for k, v in (await statuses(sessions)).items() if v == "pending"}
    assert 2 <= len(left) <= 3 and set(left) <= {f"p:{n}" for n in range(5)}
    for key in left:  # not a failed attempt: it never tried
        assert (await row(sessions, key)).attempts == 0


async def test_two_dispatchers_claim_disjoint_rows(engine: AsyncEngine, sessions: Sessions) -> None:
    await seed_outbox(engine, 200, NOW, platform="webchat")
    channel = RecordingChannel("webchat")
    workers = [
        Dispatcher(
            sessions=sessions,
            channels={"webchat": channel},
            renderer=KeyRenderer(),
            clock=FrozenClock(NOW),
            instance=f"w{n}",
            batch=25,
            limiter=RateLimiter.off(),
        )
        for n in range(2)
    ]

    async def drain(worker: Dispatcher) -> int:
        total = 0
        while count := await worker.run_once():
            total += count
        return total

    counts = await asyncio.gather(*(drain(worker) for worker in workers))

    assert sum(counts) == 200
    assert sorted(channel.texts()) == sorted(f"p:{n}" for n in range(200))


async def test_outbox_depth_gauge_counts_pending_rows(
    engine: AsyncEngine, sessions: Sessions
) -> None:
    await seed_outbox(engine, 4, NOW + timedelta(hours=1), platform="webchat")
    worker = dispatcher(sessions, {"webchat": RecordingChannel("webchat")})

    assert await worker.refresh_depth() == 4
    assert metric("tenkepause_outbox_depth") == 4
    assert metric("tenkepause_claim_latency_seconds_count") >= 0


async def test_logs_never_contain_message_text(
    engine: AsyncEngine, sessions: Sessions, caplog: pytest.LogCaptureFixture
) -> None:
    await seed_outbox(engine, 3, NOW, platform="webchat")
    secret = "Mitt svar om medarbeidersamtalen"

    class SecretRenderer:
        async def render(self, session: AsyncSession, delivery: Delivery) -> OutMessage:
            if delivery.key == "p:2":
                raise ValueError(secret)
            return OutMessage(text=secret)

    channel = ScriptedChannel(script=[PermanentFailure("blocked"), TemporaryFailure(secret)])
    worker = dispatcher(sessions, {"webchat": channel})
    worker.renderer = SecretRenderer()

    with caplog.at_level(logging.DEBUG, logger="tenkepause"):
        await worker.run_once()

    assert caplog.records, "the dispatcher logged nothing"
    for record in caplog.records:
        assert secret not in record.getMessage()
        assert all(secret not in str(value) for value in vars(record).values())
    fields = [r for r in caplog.records if hasattr(r, "delivery_id")]
    assert len({r.delivery_id for r in fields}) == 3  # type: ignore[attr-defined]
    assert {r.status for r in fields} == {"failed", "pending"}  # type: ignore[attr-defined]


async def outstanding(sessions: Sessions) -> int:
    """Return how many rows still wait to be sent."""
    async with sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.status.in_(("pending", "claimed")))
        )
    return int(count or 0)


async def test_faults_everything_is_delivered_and_nothing_twice(
    engine: AsyncEngine, sessions: Sessions
) -> None:
    count = 300
    await seed_outbox(engine, count, datetime.now(UTC), platform="telegram")
    platform = FlakyPlatform(rate_429=0.20, retry_after=0.05, rate_500=0.10)
    url = await platform.start()
    channel = FakeHttpChannel("telegram", url)
    worker = Dispatcher(
        sessions=sessions,
        channels={"telegram": channel},
        renderer=KeyRenderer(),
        clock=SystemClock(),
        instance="faults",
        batch=100,
        concurrency=16,
        limiter=RateLimiter.off(),
        retry=RetryPolicy(max_attempts=12, base=0.01, cap=0.2, rng=random.Random(5)),
        poll_interval=0.02,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_forever(stop))
    try:
        async with asyncio.timeout(60):
            while await outstanding(sessions):
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
        await channel.close()
        await platform.stop()

    assert platform.answers[429] > 0 and platform.answers[500] > 0
    assert platform.chats() == {f"p{n}" for n in range(count)}
    assert platform.duplicates() == 0
    assert len(platform.received) == count
    assert set((await statuses(sessions)).values()) == {"sent"}
    print(
        f"faults: {count} delivered, answers {dict(platform.answers)}, "
        f"duplicates {platform.duplicates()}"
    )
