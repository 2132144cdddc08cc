"""Benchmark a Telegram fan-out through the real outbox dispatcher, renderer and channel.

Per backend (SQLite, PostgreSQL), against the fake Bot API (bench/fake_telegram.py over
tests/fakes/telegram_api.py) in its own process on 127.0.0.1, so this process holds only
the bot's side:

1. Limits off: `--recipients` (14,000) prompt deliveries, seeded in bulk with real prompt,
   campaign and occurrence rows, go through Dispatcher.run_forever + OutboxRenderer +
   TelegramChannel (python-telegram-bot), with the batch and concurrency `tenkepause run`
   uses. A bare loop makes the same PTB ``Bot.send_message`` calls (each delivery's text
   and reply markup, rendered beforehand by the same renderer) from as many concurrent
   loops; half of it runs before the pipeline and half after, so a change in the shared
   machine's load weighs on both. The fake checks that both sent exactly the planned
   calls. Target: pipeline throughput >= 0.5 x the bare loop's.
2. Telegram's default limits (``RateLimiter.from_setting("")`` and PTB's AIORateLimiter),
   `--limited` (600) deliveries to distinct chats; the fake answers 429 (retry_after 1) to
   any send that would make more than 30 in the last second (a sliding window). Target:
   achieved rate, from starting the dispatcher to the last result recorded, >= 95% of
   30 msg/s, and zero 429 answers.
3. Peak RSS of this process (ru_maxrss). Target: < 300 MB.

Run: .venv/bin/python bench/fanout.py [--recipients 14000] [--limited 600]
     [--backend sqlite|postgres|both] [--postgres-url URL]
PostgreSQL comes from --postgres-url or TENKEPAUSE_TEST_POSTGRES_URL; the bench creates
and drops its own database there.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import resource
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Bot, ForceReply, InlineKeyboardMarkup

from bench.fake_telegram import DIGEST_MODULUS, call_digest
from bot.channels.telegram.application import build_application
from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.keyboards import render as render_for_telegram
from bot.clock import SystemClock
from bot.services.render import OutboxRenderer
from bot.settings import Settings
from scheduler.dispatcher import Dispatcher
from scheduler.rate_limits import RateLimiter
from storage.engine import make_engine, make_sessionmaker
from storage.migrate import upgrade
from storage.models import Campaign, Delivery, Identity, Occurrence, Person, Prompt
from tests import databases
from tests.fakes.telegram_api import TOKEN

FAKE_SCRIPT = Path(__file__).resolve().parent / "fake_telegram.py"
SECRET = "bench-secret"  # noqa: S105 - signs the fake's buttons only
TELEGRAM_RATE = 30  # Telegram's overall limit, messages per second
TARGET_RATIO = 0.5
TARGET_RATE_SHARE = 0.95
TARGET_RSS_MB = 300.0
LOCALES = ("nb", "nn", "en")
DEFAULTS = Settings(_env_file=None)
log = logging.getLogger("bench.fanout")
Call = tuple[int, str, dict[str, Any] | None]  # chat_id, text, reply markup as JSON


def digest_of(calls: Sequence[Call]) -> int:
    """Return the order-independent digest of a set of calls."""
    return sum(call_digest(*call) for call in calls) % DIGEST_MODULUS


# -- the fake Bot API, in a child process ------------------------------------------------------


@dataclass
class FakeProcess:
    """The fake Bot API in a child process, driven over its own HTTP endpoints."""

    process: asyncio.subprocess.Process
    port: int
    client: httpx.AsyncClient

    @property
    def base_url(self) -> str:
        """Return TELEGRAM_API_URL for PTB."""
        return f"http://127.0.0.1:{self.port}/bot"

    async def call(self, method: str, **params: str) -> Any:
        """Call one of the bench's own methods on the fake."""
        response = await self.client.post(f"{self.base_url}{TOKEN}/{method}", data=params)
        response.raise_for_status()
        return response.json()["result"]

    async def reset(self, per_second: int | None) -> None:
        """Forget what was sent; enforce `per_second` (or no limit)."""
        await self.call("benchReset", per_second="off" if per_second is None else str(per_second))

    async def stats(self) -> dict[str, Any]:
        """Return sendMessage's HTTP status counts, the digest of the accepted calls, and the
        seconds from the first accepted send to the last."""
        result: dict[str, Any] = await self.call("benchStats")
        result["statuses"] = {int(k): v for k, v in result["statuses"].items()}
        result["digest"] = int(result["digest"])
        return result


@contextlib.asynccontextmanager
async def fake_process() -> AsyncIterator[FakeProcess]:
    """Start the fake in a child process; stop it on exit."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(FAKE_SCRIPT),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stdin is not None
    port = int(await asyncio.wait_for(process.stdout.readline(), 30))
    async with httpx.AsyncClient(timeout=30) as client:
        try:
            yield FakeProcess(process, port, client)
        finally:
            process.stdin.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 10)
            if process.returncode is None:
                process.kill()
                await process.wait()


# -- seeding ---------------------------------------------------------------------------------


async def seed(engine: AsyncEngine, count: int, prefix: str, first_chat: int) -> None:
    """Create `count` people on Telegram, each with one due prompt of a real campaign."""
    due = SystemClock().now() - timedelta(seconds=5)
    async with engine.begin() as connection:
        prompt_id = (
            await connection.execute(
                insert(Prompt)
                .values(
                    key=f"bench-{prefix}",
                    text={
                        "nb": "Hva har du lært om deg selv som leder denne uka?",
                        "nn": "Kva har du lært om deg sjølv som leiar denne veka?",
                        "en": "What did you learn about yourself as a leader this week?",
                    },
                    follow_up={"nb": "Hva vil du gjøre annerledes?"},
                )
                .returning(Prompt.id)
            )
        ).scalar_one()
        campaign_id = (
            await connection.execute(
                insert(Campaign)
                .values(key=f"bench-{prefix}", title="Ukesrefleksjon", start_date=date(2026, 1, 5))
                .returning(Campaign.id)
            )
        ).scalar_one()
        occurrence_id = (
            await connection.execute(
                insert(Occurrence)
                .values(campaign_id=campaign_id, prompt_id=prompt_id, local_date=due.date())
                .returning(Occurrence.id)
            )
        ).scalar_one()
        await connection.execute(
            insert(Person),
            [
                {
                    "email": f"{prefix}{n}@bench.example",
                    "name": f"Leder {n}",
                    "locale": LOCALES[n % len(LOCALES)],
                    "preferred_platform": "telegram",
                }
                for n in range(count)
            ],
        )
        ids = dict(
            (
                await connection.execute(
                    select(Person.email, Person.id).where(Person.email.like(f"{prefix}%@bench%"))
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
                    "occurrence_id": occurrence_id,
                    "prompt_id": prompt_id,
                    "payload": {"visibility": "coach"},
                    "due_at": due,
                    "next_attempt_at": due,
                    "expires_at": due + timedelta(hours=4),
                }
                for n in range(count)
            ],
        )


async def statuses(engine: AsyncEngine, prefix: str) -> dict[str, int]:
    """Return how many of this run's deliveries are in each status."""
    async with make_sessionmaker(engine)() as session:
        rows = await session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.key.like(f"{prefix}:%"))
            .group_by(Delivery.status)
        )
        return {status: int(count) for status, count in rows.all()}


# -- the two senders -------------------------------------------------------------------------


def dispatcher(engine: AsyncEngine, channel: TelegramChannel, limiter: RateLimiter) -> Dispatcher:
    """Return the dispatcher `tenkepause run` builds, with its default batch and concurrency."""
    return Dispatcher(
        sessions=make_sessionmaker(engine),
        channels={"telegram": channel},
        renderer=OutboxRenderer(),
        instance="bench",
        batch=DEFAULTS.dispatch_batch,
        concurrency=DEFAULTS.dispatch_concurrency,
        limiter=limiter,
        poll_interval=0.05,
    )


async def run_pipeline(
    worker: Dispatcher, fake: FakeProcess, count: int, poll: float = 0.1
) -> float:
    """Run the dispatcher's loop until `count` sends are recorded; return the seconds.

    Every `poll` seconds the fake is asked how many it accepted, then the database
    whether any row is left; the loop stops when all are sent and recorded.
    """
    stop = asyncio.Event()

    async def stop_when_drained() -> None:
        while True:
            await asyncio.sleep(poll)
            accepted = (await fake.stats())["statuses"].get(200, 0)
            if accepted >= count and await worker.outstanding() == 0:
                stop.set()
                return

    started = time.perf_counter()
    watcher = asyncio.create_task(stop_when_drained())
    await worker.run_forever(stop)
    elapsed = time.perf_counter() - started
    await watcher
    return elapsed


def markup_of(data: dict[str, Any] | None, bot: Bot) -> InlineKeyboardMarkup | ForceReply | None:
    """Rebuild the PTB reply markup object from what the fake received."""
    if not data:
        return None
    if "inline_keyboard" in data:
        return InlineKeyboardMarkup.de_json(data, bot)
    return ForceReply.de_json(data, bot)


async def run_bare(bot: Bot, calls: Sequence[tuple[int, str, Any]], concurrency: int) -> float:
    """Make the same send_message calls from `concurrency` loops; return the seconds."""
    pending = iter(calls)

    async def loop() -> None:
        for chat_id, text, markup in pending:
            await bot.send_message(chat_id=chat_id, text=text, reply_markup=markup)

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(loop())
    return time.perf_counter() - started


# -- the measurements ------------------------------------------------------------------------


@dataclass
class Figures:
    """What one backend measured."""

    backend: str
    recipients: int = 0
    pipeline_seconds: float = 0.0
    bare_seconds: float = 0.0
    limited: int = 0
    limited_seconds: float = 0.0
    limited_429: int = 0
    limited_steady: float = 0.0  # msg/s between the first and last send the fake accepted
    peak_rss_mb: float = 0.0  # of this process, so far, right after the unlimited run
    pipeline_cpu: float = 0.0
    bare_cpu: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        """Return the pipeline's throughput as a share of the bare loop's."""
        return self.bare_seconds / self.pipeline_seconds

    @property
    def limited_rate(self) -> float:
        """Return the messages per second achieved under Telegram's limits."""
        return self.limited / self.limited_seconds


def settings_for(fake: FakeProcess) -> Settings:
    """Return settings that point PTB at the fake."""
    return Settings(
        _env_file=None,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=fake.base_url,
        TENKEPAUSE_SECRET_KEY=SECRET,
    )


async def planned_calls(engine: AsyncEngine, prefix: str) -> list[Call]:
    """Render this run's deliveries with the real renderer, as the channel will send them."""
    sessions = make_sessionmaker(engine)
    renderer = OutboxRenderer()
    calls: list[Call] = []
    last_id, chunk = 0, 1000
    while True:
        # Chunks with their own session, so this bookkeeping does not inflate peak RSS.
        async with sessions() as session:
            rows = (
                await session.execute(
                    select(Delivery, Identity.address)
                    .join(Identity, Identity.person_id == Delivery.person_id)
                    .where(Delivery.key.like(f"{prefix}:%"), Delivery.id > last_id)
                    .order_by(Delivery.id)
                    .limit(chunk)
                )
            ).all()
            if not rows:
                return calls
            held = [
                *(await session.scalars(select(Prompt))).all(),
                *(await session.scalars(select(Occurrence))).all(),
                *(await session.scalars(select(Campaign))).all(),
                *(
                    await session.scalars(
                        select(Person).where(Person.id.in_([d.person_id for d, _ in rows]))
                    )
                ).all(),
            ]
            for delivery, address in rows:
                text, markup = render_for_telegram(await renderer.render(session, delivery), SECRET)
                calls.append(
                    (address["chat_id"], text, None if markup is None else markup.to_dict())
                )
            last_id = rows[-1][0].id
            del held


def ptb_calls(calls: Sequence[Call], bot: Bot) -> list[tuple[int, str, Any]]:
    """Return the calls with their reply markup as PTB objects, built before timing."""
    return [(chat_id, text, markup_of(markup, bot)) for chat_id, text, markup in calls]


async def unlimited(engine: AsyncEngine, fake: FakeProcess, figures: Figures, count: int) -> None:
    """Time the pipeline, bracketed by two halves of the bare loop, with every limit off.

    Half the bare loop runs before the pipeline and half after, so a change in the shared
    machine's load during the run weighs on both figures alike.
    """
    await seed(engine, count, "u", 1_000_000)
    figures.recipients = count
    planned = await planned_calls(engine, "u")
    half = len(planned) // 2
    application = build_application(settings_for(fake), polling=False, limits=False)
    async with application:
        bot = application.bot
        concurrency = DEFAULTS.dispatch_concurrency
        await fake.reset(per_second=None)
        first = ptb_calls(planned[:half], bot)
        cpu = time.process_time()
        bare_first = await run_bare(bot, first, concurrency)
        figures.bare_cpu = time.process_time() - cpu
        del first
        bare_digest = (await fake.stats())["digest"]

        await fake.reset(per_second=None)
        worker = dispatcher(engine, TelegramChannel(bot, SECRET), RateLimiter.off())
        cpu = time.process_time()
        figures.pipeline_seconds = await run_pipeline(worker, fake, count)
        figures.pipeline_cpu = time.process_time() - cpu
        done = await statuses(engine, "u")
        if done.get("sent") != count:
            figures.problems.append(f"pipeline left {done} of {count}")
        if (await fake.stats())["digest"] != digest_of(planned):
            figures.problems.append("the pipeline did not send what the renderer renders")

        await fake.reset(per_second=None)
        second = ptb_calls(planned[half:], bot)
        cpu = time.process_time()
        figures.bare_seconds = bare_first + await run_bare(bot, second, concurrency)
        figures.bare_cpu += time.process_time() - cpu
        del second
        bare_digest = (bare_digest + (await fake.stats())["digest"]) % DIGEST_MODULUS
        if bare_digest != digest_of(planned):
            figures.problems.append("the bare loop did not make the planned calls")


async def limited(engine: AsyncEngine, fake: FakeProcess, figures: Figures, count: int) -> None:
    """Time a fan-out to distinct chats under Telegram's default limits; count 429s."""
    await seed(engine, count, "l", 3_000_000)
    figures.limited = count
    application = build_application(settings_for(fake), polling=False)
    async with application:
        channel = TelegramChannel(application.bot, SECRET)
        await fake.reset(per_second=TELEGRAM_RATE)
        worker = dispatcher(engine, channel, RateLimiter.from_setting(""))
        figures.limited_seconds = await run_pipeline(worker, fake, count, poll=0.02)
        stats = await fake.stats()
        figures.limited_429 = stats["statuses"].get(429, 0)
        figures.limited_steady = (count - 1) / stats["span"] if stats["span"] else 0.0
    done = await statuses(engine, "l")
    if done.get("sent") != count:
        figures.problems.append(f"limited run left {done} of {count}")


async def measure(
    backend: str, url: str, fake: FakeProcess, recipients: int, limited_count: int
) -> Figures:
    """Run both measurements on one migrated database."""
    figures = Figures(backend)
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    try:
        await unlimited(engine, fake, figures, recipients)
        figures.peak_rss_mb = peak_rss_mb()
        await limited(engine, fake, figures, limited_count)
    finally:
        await engine.dispose()
    return figures


def peak_rss_mb() -> float:
    """Return this process's peak resident set size so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def verdict(ok: bool) -> str:
    """Return PASS or FAIL."""
    return "PASS" if ok else "FAIL"


def report(figures: Figures) -> bool:
    """Print one backend's figures; return whether they meet the targets."""
    count, name = figures.recipients, figures.backend
    ratio_ok = figures.ratio >= TARGET_RATIO
    share = figures.limited_rate / TELEGRAM_RATE
    rate_ok = share >= TARGET_RATE_SHARE and figures.limited_429 == 0
    print(
        f"[{name}] limits off, {count} recipients, concurrency "
        f"{DEFAULTS.dispatch_concurrency}, batch {DEFAULTS.dispatch_batch}"
    )
    for label, seconds, cpu in (
        ("pipeline ", figures.pipeline_seconds, figures.pipeline_cpu),
        ("bare loop", figures.bare_seconds, figures.bare_cpu),
    ):
        print(
            f"  {label} {seconds:6.2f} s {count / seconds:6.0f} msg/s   "
            f"CPU {cpu / count * 1000:.2f} ms/msg"
        )
    print(f"  ratio {figures.ratio:.2f} (target >= {TARGET_RATIO})  {verdict(ratio_ok)}")
    print(f"  peak RSS so far {figures.peak_rss_mb:.0f} MB")
    print(f"[{name}] Telegram default limits, {figures.limited} distinct chats")
    print(
        f"  {figures.limited_seconds:.2f} s, {figures.limited_rate:.2f} msg/s = {share:.1%} of "
        f"{TELEGRAM_RATE}/s (target >= {TARGET_RATE_SHARE:.0%}); between first and last "
        f"send {figures.limited_steady:.2f} msg/s"
    )
    print(f"  429 answers {figures.limited_429} (target 0)  {verdict(rate_ok)}")
    for problem in figures.problems:
        print(f"  problem: {problem}  FAIL")
    return ratio_ok and rate_ok and not figures.problems


async def main(args: argparse.Namespace) -> int:
    """Run the benchmark on the chosen backends and print the verdicts."""
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} CPUs")
    started = time.perf_counter()
    results: list[Figures] = []
    admin = args.postgres_url or databases.postgres_admin_url()
    if args.backend in ("postgres", "both"):
        if admin is None:
            print(f"PostgreSQL: give --postgres-url or set {databases.POSTGRES_ENV}  FAIL")
            return 1
        os.environ[databases.POSTGRES_ENV] = admin  # drop_postgres reads it
    async with fake_process() as fake:
        if args.backend in ("sqlite", "both"):
            with tempfile.TemporaryDirectory() as folder:
                url = f"sqlite+aiosqlite:///{folder}/bench.db"
                results.append(await measure("sqlite", url, fake, args.recipients, args.limited))
        if admin is not None and args.backend in ("postgres", "both"):
            url = await asyncio.to_thread(databases.create_postgres_template, admin)
            try:
                results.append(await measure("postgres", url, fake, args.recipients, args.limited))
            finally:
                await asyncio.to_thread(databases.drop_postgres, url)
    verdicts = [report(figures) for figures in results]
    peak_mb = peak_rss_mb()
    rss_ok = peak_mb < TARGET_RSS_MB
    print(
        f"peak RSS of this process {peak_mb:.0f} MB (target < {TARGET_RSS_MB:g} MB)  "
        f"{verdict(rss_ok)}"
    )
    print(
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
        f"bench took {time.perf_counter() - started:.0f} s"
    )
    ok = all(verdicts) and rss_ok
    print(verdict(ok))
    return 0 if ok else 1


def arguments() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=14_000)
    parser.add_argument("--limited", type=int, default=600, help="deliveries under limits")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--postgres-url", default=None)
    return parser.parse_args()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(asyncio.run(main(arguments())))
