"""Benchmark a Telegram fan-out through the real outbox dispatcher and Telegram channel.

Against the fake Bot API (tests/fakes/telegram_api.py), on SQLite and PostgreSQL:

1. Limits off: 14,000 prompt deliveries through Dispatcher + TelegramChannel + PTB, versus a
   bare loop of the same PTB send_message calls (same bot, same concurrency) in the same run.
   Judged by: pipeline throughput >= 0.5x the bare loop.
2. Telegram's default limits (dispatcher token buckets + PTB's AIORateLimiter), with the
   fake refusing anything above 30 msg/s with 429. Judged by: achieved rate >= 95% of
   30 msg/s and zero 429 answers.
3. Peak RSS of the whole run. Judged by: < 300 MB.

Run: .venv/bin/python bench/fanout.py [--recipients 14000] [--limited 900]
     [--backend sqlite|postgres|both]   (PostgreSQL needs TENKEPAUSE_TEST_POSTGRES_URL)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.telegram.application import build_application
from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.keyboards import render
from bot.clock import SystemClock
from bot.services.render import OutboxRenderer
from bot.settings import Settings
from scheduler.dispatcher import Dispatcher
from scheduler.rate_limits import RateLimiter
from storage.engine import make_engine, make_sessionmaker
from storage.migrate import upgrade
from storage.models import Delivery, Identity, Person, Prompt
from tests import databases
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI

SECRET = "bench-secret"  # noqa: S105 (signs the fake run's buttons)
TELEGRAM_RATE = 30.0
TARGET_RATIO = 0.5
TARGET_RATE_SHARE = 0.95
TARGET_RSS_MB = 300.0
DEFAULTS = Settings(_env_file=None)  # type: ignore[call-arg]


@dataclass
class Figures:
    """What one backend measured."""

    backend: str
    recipients: int
    pipeline_seconds: float
    bare_seconds: float
    limited: int
    limited_seconds: float
    limited_429: int

    @property
    def ratio(self) -> float:
        """Return pipeline throughput as a share of the bare loop's."""
        return self.bare_seconds / self.pipeline_seconds

    @property
    def limited_rate(self) -> float:
        """Return messages per second under Telegram's limits."""
        return self.limited / self.limited_seconds


async def seed(engine: AsyncEngine, count: int, prefix: str, first_chat: int) -> None:
    """Create `count` people on Telegram with one due reflection prompt each."""
    due = SystemClock().now() - timedelta(minutes=1)
    async with engine.begin() as connection:
        prompt_id = (
            await connection.execute(
                insert(Prompt)
                .values(key=f"bench-{prefix}", text={"nb": "Hva lærte du denne uka?"})
                .returning(Prompt.id)
            )
        ).scalar_one()
        await connection.execute(
            insert(Person),
            [{"email": f"{prefix}{n}@bench.example", "name": f"Leder {n}"} for n in range(count)],
        )
        ids = dict(
            (
                await connection.execute(
                    select(Person.email, Person.id).where(Person.email.like(f"{prefix}%"))
                )
            ).all()
        )
        people = [ids[f"{prefix}{n}@bench.example"] for n in range(count)]
        await connection.execute(
            insert(Identity),
            [
                {
                    "person_id": people[n],
                    "platform": "telegram",
                    "external_id": str(first_chat + n),
                    "address": {"chat_id": first_chat + n},
                    "status": "active",
                }
                for n in range(count)
            ],
        )
        await connection.execute(
            insert(Delivery),
            [
                {
                    "key": f"{prefix}:{n}",
                    "kind": "prompt",
                    "person_id": people[n],
                    "prompt_id": prompt_id,
                    "payload": {"visibility": "coach"},
                    "due_at": due,
                    "next_attempt_at": due,
                    "expires_at": due + timedelta(days=1),
                }
                for n in range(count)
            ],
        )


async def drain(dispatcher: Dispatcher) -> float:
    """Dispatch until nothing is due; return the seconds it took."""
    started = time.perf_counter()
    while await dispatcher.run_once():
        pass
    return time.perf_counter() - started


async def sent_count(engine: AsyncEngine, prefix: str) -> int:
    """Return how many of this run's deliveries were sent."""
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.key.like(f"{prefix}:%"), Delivery.status == "sent")
            )
            or 0
        )


def settings_for(api: FakeTelegramAPI) -> Settings:
    """Return settings pointing PTB at the fake."""
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=api.base_url,
        TENKEPAUSE_SECRET_KEY=SECRET,
    )


def dispatcher(engine: AsyncEngine, channel: TelegramChannel, limiter: RateLimiter) -> Dispatcher:
    """Return the dispatcher `tenkepause run` would build, on this channel."""
    return Dispatcher(
        sessions=make_sessionmaker(engine),
        channels={"telegram": channel},
        renderer=OutboxRenderer(),
        instance="bench",
        batch=DEFAULTS.dispatch_batch,
        concurrency=DEFAULTS.dispatch_concurrency,
        limiter=limiter,
    )


async def unlimited(engine: AsyncEngine, recipients: int) -> tuple[float, float]:
    """Time the pipeline and the bare loop with every limit off."""
    await seed(engine, recipients, "u", 1_000_000)
    async with FakeTelegramAPI() as api:
        application = build_application(settings_for(api), polling=False, limits=False)
        async with application:
            channel = TelegramChannel(application.bot, SECRET)
            pipeline = await drain(dispatcher(engine, channel, RateLimiter.off()))
            assert await sent_count(engine, "u") == recipients, "not every delivery was sent"

            # The same calls, bare: one rendered prompt, the same bot and concurrency.
            sessions = make_sessionmaker(engine)
            async with sessions() as session:
                row = await session.scalar(select(Delivery).where(Delivery.key == "u:0"))
                assert row is not None
                message = await OutboxRenderer().render(session, row)
            text, markup = render(message, SECRET)
            slots = asyncio.Semaphore(DEFAULTS.dispatch_concurrency)

            async def one(chat_id: int) -> None:
                async with slots:
                    await application.bot.send_message(chat_id, text, reply_markup=markup)

            started = time.perf_counter()
            await asyncio.gather(*(one(2_000_000 + n) for n in range(recipients)))
            bare = time.perf_counter() - started
    return pipeline, bare


async def limited(engine: AsyncEngine, count: int) -> tuple[float, int]:
    """Time a fan-out under Telegram's default limits; return seconds and 429 answers."""
    await seed(engine, count, "l", 3_000_000)
    async with FakeTelegramAPI(per_second=TELEGRAM_RATE) as api:
        application = build_application(settings_for(api), polling=False)
        async with application:
            channel = TelegramChannel(application.bot, SECRET)
            seconds = await drain(dispatcher(engine, channel, RateLimiter.from_setting("")))
        assert await sent_count(engine, "l") == count, "not every delivery was sent"
        return seconds, api.statuses().get(429, 0)


async def measure(backend: str, url: str, recipients: int, limited_count: int) -> Figures:
    """Run both measurements on one database."""
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    try:
        pipeline, bare = await unlimited(engine, recipients)
        limited_seconds, flood = await limited(engine, limited_count)
    finally:
        await engine.dispose()
    return Figures(backend, recipients, pipeline, bare, limited_count, limited_seconds, flood)


def report(figures: Figures) -> bool:
    """Print one backend's figures; return whether they meet the targets."""
    pipeline_rate = figures.recipients / figures.pipeline_seconds
    bare_rate = figures.recipients / figures.bare_seconds
    rate_ok = figures.limited_rate >= TARGET_RATE_SHARE * TELEGRAM_RATE
    print(f"[{figures.backend}] limits off, {figures.recipients} recipients:")
    print(f"  pipeline  {figures.pipeline_seconds:7.2f} s  {pipeline_rate:8.0f} msg/s")
    print(f"  bare loop {figures.bare_seconds:7.2f} s  {bare_rate:8.0f} msg/s")
    print(f"  ratio {figures.ratio:.2f}x (target >= {TARGET_RATIO}x)")
    print(f"[{figures.backend}] Telegram limits, {figures.limited} recipients:")
    print(
        f"  {figures.limited_seconds:.2f} s, {figures.limited_rate:.2f} msg/s = "
        f"{figures.limited_rate / TELEGRAM_RATE:.1%} of {TELEGRAM_RATE:g}/s "
        f"(target >= {TARGET_RATE_SHARE:.0%}); 429 answers: {figures.limited_429} (target 0)"
    )
    return figures.ratio >= TARGET_RATIO and rate_ok and figures.limited_429 == 0


async def main() -> int:
    """Run the benchmark on the chosen backends and print the verdict."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=14_000)
    parser.add_argument("--limited", type=int, default=900, help="recipients under limits")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    results: list[Figures] = []
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{folder}/bench.db"
            results.append(await measure("sqlite", url, args.recipients, args.limited))
    if args.backend in ("postgres", "both"):
        admin = databases.postgres_admin_url()
        if admin is None:
            print(f"PostgreSQL skipped: {databases.POSTGRES_ENV} is not set")
        else:
            url = await asyncio.to_thread(databases.create_postgres_template, admin)
            try:
                results.append(await measure("postgres", url, args.recipients, args.limited))
            finally:
                await asyncio.to_thread(databases.drop_postgres, url)

    verdicts = [report(figures) for figures in results]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rss_ok = peak_mb < TARGET_RSS_MB
    print(f"peak RSS {peak_mb:.0f} MB (target < {TARGET_RSS_MB:g} MB)")
    ok = all(verdicts) and rss_ok and bool(results)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
