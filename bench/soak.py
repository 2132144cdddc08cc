"""Soak the real `tenkepause run` process: leaders on fake Slack and Telegram, for minutes.

It builds a database through the real CLI (migrate, import a roster of --people, apply a
programme whose campaigns fire every few minutes and whose pulses open every few minutes),
starts `tenkepause run` as a subprocess on loopback against the fakes, and lets a tenth of
the leaders answer prompts and press pulse buttons through the signed webhook routes, with
redeliveries. Every minute it checks that the process is alive, samples its RSS, and counts
what is overdue. With --crash-after it SIGKILLs the process mid fan-out once, restarts it
under a new instance name, and times the recovery.

Judged by: alive throughout; 0 lost (every due delivery sent, at the fake); duplicates at
most the in-flight bound; every pulse card sent with buttons; RSS not growing without bound;
after a crash, the last delivery due before it within 30 s of the restart.

Run: .venv/bin/python bench/soak.py --backend sqlite|postgres --minutes 30 [--crash-after 120]
PostgreSQL comes from --postgres-url or TENKEPAUSE_TEST_POSTGRES_URL; the soak creates and
drops its own database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench import soak_world as world
from storage.engine import make_engine
from storage.models import Delivery, Identity, Person

ROOT = Path(__file__).resolve().parent.parent
IN_FLIGHT = 16  # TENKEPAUSE_DISPATCH_CONCURRENCY: the duplicate bound after a crash
RECOVERY_TARGET = 30.0
OVERDUE_AFTER = timedelta(seconds=120)  # a due row still unsent after this is overdue
RSS_GROWTH_LIMIT = 1.25  # end RSS over the RSS a third of the way in, for runs >= 10 min


@dataclass
class Figures:
    """What one soak measured."""

    backend: str
    people: int
    minutes: float
    alive_checks: int = 0
    died: str | None = None
    rss_mb: list[tuple[float, float, int]] = field(default_factory=list)  # (minute, MB, start)
    sent: int = 0
    lost: int = 0
    failed: int = 0
    overdue_max: int = 0
    duplicates: int = 0
    pulse_cards: int = 0
    closed_pulse_cards: int = 0
    answers: dict[str, int] = field(default_factory=dict)
    answer_errors: dict[str, int] = field(default_factory=dict)
    crash: dict[str, Any] | None = None
    bot_errors: dict[str, int] = field(default_factory=dict)  # ERROR lines in the bot's logs
    failures: list[str] = field(default_factory=list)

    def judge(self) -> None:
        """Fill `failures` with every target missed."""
        checks = [
            (self.died is None, f"the process died: {self.died}"),
            (self.lost == 0, f"{self.lost} deliveries lost"),
            (self.failed == 0, f"{self.failed} deliveries failed or expired"),
            (self.duplicates <= IN_FLIGHT, f"{self.duplicates} duplicates > {IN_FLIGHT}"),
            (self.closed_pulse_cards == 0, f"{self.closed_pulse_cards} pulse cards arrived closed"),
            (not self.answer_errors, f"answers refused: {self.answer_errors}"),
            (not self.bot_errors, f"the bot logged errors: {self.bot_errors}"),
            (self.sent > 0, "nothing was sent"),
        ]
        if self.crash is not None:
            recovery = self.crash.get("recovery_seconds")
            checks.append(
                (
                    recovery is not None and recovery <= RECOVERY_TARGET,
                    f"recovery took {recovery} s (target {RECOVERY_TARGET} s)",
                )
            )
        # Judged over the process alive at the end (a restart starts its curve afresh).
        last = [(minute, mb) for minute, mb, start in self.rss_mb if start == self.rss_mb[-1][2]]
        if len(last) >= 6 and last[-1][0] - last[0][0] >= 10:
            begun = last[0][0] + (last[-1][0] - last[0][0]) / 3
            third = next(mb for minute, mb in last if minute >= begun)
            end = last[-1][1]
            checks.append(
                (end <= third * RSS_GROWTH_LIMIT, f"RSS grew from {third:.0f} to {end:.0f} MB")
            )
        self.failures = [message for ok, message in checks if not ok]


def free_port() -> int:
    """Return a free TCP port on loopback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_mb(pid: int) -> float:
    """Return a process's resident set size in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@asynccontextmanager
async def database(backend: str, folder: Path, postgres_url: str | None) -> AsyncIterator[str]:
    """Yield the URL of a fresh database of `backend`, dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{folder / 'soak.db'}"
        return
    if not postgres_url:
        raise SystemExit(
            "soak: --backend postgres needs --postgres-url or TENKEPAUSE_TEST_POSTGRES_URL"
        )
    name = f"tenkepause_soak_{secrets.token_hex(4)}"
    admin = make_engine(postgres_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


def cli(environment: dict[str, str], *arguments: str) -> None:
    """Run one `tenkepause` command; stop the soak with its message if it fails."""
    command = [str(ROOT / ".venv" / "bin" / "tenkepause"), *arguments]
    done = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"soak: {' '.join(arguments)} failed: {done.stderr.strip()[-400:]}")


async def link_telegram(engine: AsyncEngine, leaders: list[world.Leader]) -> None:
    """Give the Telegram half the identity a /start with an invite code would have made."""
    now = datetime.now(UTC)
    async with engine.begin() as connection:
        ids = dict((await connection.execute(select(Person.email, Person.id))).all())
        await connection.execute(
            Identity.__table__.insert(),
            [
                {
                    "person_id": ids[leader.email],
                    "platform": "telegram",
                    "external_id": str(leader.telegram_id),
                    "address": {"chat_id": leader.telegram_id},
                    "status": "active",
                    "consent_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for leader in leaders
                if leader.platform == "telegram"
            ],
        )


def bot_environment(
    url: str, port: int, platforms: world.Platforms, tick: float, folder: Path
) -> dict[str, str]:
    """Return the environment `tenkepause run` gets: only settings, as an operator sets them."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TZ")}
    return {
        **keep,
        "PYTHONFAULTHANDLER": "1",
        "TENKEPAUSE_DATABASE_URL": url,
        "TENKEPAUSE_SECRET_KEY": secrets.token_urlsafe(48),
        "TENKEPAUSE_HTTP_HOST": "127.0.0.1",
        "TENKEPAUSE_HTTP_PORT": str(port),
        "TENKEPAUSE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "TENKEPAUSE_TICK_SECONDS": str(tick),
        "TENKEPAUSE_QUIET_HOURS": "",
        "TENKEPAUSE_LOG_LEVEL": "WARNING",
        # The fakes take what Slack's tier and Telegram's overall limit allow.
        "TENKEPAUSE_RATE_LIMITS": "slack.global=50/s",
        "SLACK_BOT_TOKEN": "xoxb-soak-token",
        "SLACK_SIGNING_SECRET": world.SIGNING_SECRET,
        "SLACK_API_URL": platforms.slack.url,
        "TELEGRAM_BOT_TOKEN": world.TELEGRAM_TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": world.WEBHOOK_SECRET,
        "TELEGRAM_API_URL": f"{platforms.telegram.base_url.rsplit('/bot', 1)[0]}/bot",
        "TMPDIR": str(folder),
    }


class Bot:
    """The `tenkepause run` subprocess, restartable."""

    def __init__(self, environment: dict[str, str], folder: Path) -> None:
        """Prepare to run the bot with `environment`, logging into `folder`."""
        self.environment = environment
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.prefix: list[str] = []  # e.g. gdb, to catch a crash's C stack

    def start(self) -> None:
        """Start a new process (a new pid, so a new instance name)."""
        self.starts += 1
        log = (self.folder / f"bot-{self.starts}.log").open("wb")
        command = [*self.prefix, str(ROOT / ".venv" / "bin" / "tenkepause"), "run"]
        self.process = subprocess.Popen(
            command, env=self.environment, stdout=log, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        """Return the running process's pid."""
        assert self.process is not None
        return self.process.pid

    def death(self) -> str | None:
        """Return how the process ended, or None while it runs."""
        assert self.process is not None
        code = self.process.poll()
        if code is None:
            return None
        tail = (self.folder / f"bot-{self.starts}.log").read_text(errors="replace")[-3000:]
        return f"exit {code} ({signal.Signals(-code).name if code < 0 else 'code'}): {tail}"

    def kill(self) -> None:
        """SIGKILL the process, as a crash or an OOM kill would."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        """Stop the process gracefully (SIGTERM), or kill it after 20 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()


async def wait_healthy(port: int, bot: Bot) -> None:
    """Wait up to a minute until /healthz answers, or fail with the process's own output."""
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        while time.monotonic() < deadline:
            if (dead := bot.death()) is not None:
                raise SystemExit(f"soak: the bot did not start: {dead}")
            try:
                if (await http.get("/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit("soak: the bot did not answer /healthz within a minute")


async def outbox(engine: AsyncEngine, now: datetime) -> dict[str, int]:
    """Return outbox counts: by status, and how many due rows are overdue."""
    async with engine.connect() as connection:
        by_status = dict(
            (
                await connection.execute(
                    select(Delivery.status, func.count()).group_by(Delivery.status)
                )
            ).all()
        )
        overdue = await connection.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(
                Delivery.status.in_(("pending", "claimed")),
                Delivery.next_attempt_at < now - OVERDUE_AFTER,
            )
        )
        due_open = await connection.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.status.in_(("pending", "claimed")), Delivery.next_attempt_at <= now)
        )
    return {**by_status, "overdue": int(overdue or 0), "due_open": int(due_open or 0)}


# What the platforms let through while recovering (TENKEPAUSE_RATE_LIMITS below).
RATES = {"telegram": 29.0, "slack": 50.0}
MID_FAN_OUT = (300, 1000)  # due, unsent rows at the kill: a fan-out half done


async def crash_and_restart(
    engine: AsyncEngine, bot: Bot, port: int, figures: Figures, responders: world.Responders
) -> None:
    """SIGKILL the bot mid fan-out, restart it, and time until what was due has gone out."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        counts = await outbox(engine, datetime.now(UTC))
        if MID_FAN_OUT[0] <= counts["due_open"] <= MID_FAN_OUT[1] and counts.get("sent", 0):
            break
        await asyncio.sleep(0.1)
    else:
        figures.crash = {"error": "no fan-out was half done within 5 minutes"}
        return
    async with responders.quiet():  # leaders do not post into a dead process
        claimed, left_by_platform = await _claims_and_backlog(engine)
        bot.kill()
        killed_at = datetime.now(UTC)
        bot.start()
        restarted, restarted_at = time.monotonic(), datetime.now(UTC)
        await wait_healthy(port, bot)
    floor = max(left_by_platform.get(p, 0) / rate for p, rate in RATES.items())
    figures.crash = {
        "claimed_at_kill": claimed,
        "due_open_at_kill": counts["due_open"],
        "unsent_at_kill_by_platform": left_by_platform,
        "rate_limit_floor_seconds": round(floor, 1),
    }
    while time.monotonic() - restarted < 180:
        async with engine.connect() as connection:
            left = await connection.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.status.in_(("pending", "claimed")), Delivery.due_at <= killed_at)
            )
        if not left:
            break
        await asyncio.sleep(0.25)
    async with engine.connect() as connection:
        last = await connection.scalar(
            select(func.max(Delivery.sent_at)).where(Delivery.due_at <= killed_at)
        )
    figures.crash["left_after_180s"] = int(left or 0)
    if not left and last is not None:
        last = last if last.tzinfo else last.replace(tzinfo=UTC)
        recovery = max(0.0, (last - restarted_at).total_seconds())
        figures.crash["recovery_seconds"] = round(recovery, 1)


async def _claims_and_backlog(engine: AsyncEngine) -> tuple[int, dict[str, int]]:
    """Return how many rows are claimed, and how many due rows are unsent per platform."""
    now = datetime.now(UTC)
    async with engine.connect() as connection:
        claimed = await connection.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.status == "claimed")
        )
        backlog = (
            await connection.execute(
                select(Identity.platform, func.count())
                .join(Delivery, Delivery.person_id == Identity.person_id)
                .where(
                    Delivery.status.in_(("pending", "claimed")),
                    Delivery.next_attempt_at <= now,
                )
                .group_by(Identity.platform)
            )
        ).all()
    return int(claimed or 0), {str(platform): int(n) for platform, n in backlog}


async def outbox_refs(engine: AsyncEngine, refs: list[str]) -> set[str]:
    """Return which of these message references outbox rows were sent as."""
    async with engine.connect() as connection:
        found = await connection.scalars(
            select(Delivery.message_ref).where(Delivery.message_ref.in_(refs))
        )
        return {str(ref) for ref in found}


async def sent_refs_missing(engine: AsyncEngine, platforms: world.Platforms) -> int:
    """Return how many rows marked sent have no message at their platform's fake."""
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(Delivery.platform, Delivery.message_ref).where(Delivery.status == "sent")
            )
        ).all()
    missing = 0
    for platform, ref in rows:
        if platform == "telegram":
            chat, _, message = str(ref).rpartition(":")
            missing += (int(chat), int(message)) not in platforms.telegram.messages
        elif platform == "slack":
            channel, _, ts = str(ref).rpartition(":")
            missing += (channel.rsplit(":", 1)[-1], ts) not in platforms.slack.messages
    return missing


async def soak(args: argparse.Namespace) -> Figures:
    """Run one soak and return its figures."""
    figures = Figures(backend=args.backend, people=args.people, minutes=args.minutes)
    leaders = world.make_leaders(args.people, responders=0.1, seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="tenkepause-soak-") as name:
        folder = Path(name)
        async with database(args.backend, folder, args.postgres_url) as url:
            platforms = await world.Platforms.start(leaders)
            port = free_port()
            environment = bot_environment(url, port, platforms, args.tick, folder)
            start = datetime.now(UTC)
            (folder / "roster.csv").write_text(world.roster_csv(leaders))
            programme = world.programme_yaml(
                world.cohorts_of(leaders), start, int(args.minutes), args.every, args.pulse_every
            )
            (folder / "programme.yaml").write_text(programme)
            cli(environment, "db", "upgrade")
            cli(environment, "roster", "import", str(folder / "roster.csv"), "--create-cohorts")
            cli(environment, "programme", "apply", str(folder / "programme.yaml"))
            engine = make_engine(url)
            await link_telegram(engine, leaders)
            bot = Bot(environment, folder)
            bot.prefix = args.bot_prefix.split() if args.bot_prefix else []
            bot.environment.update(item.split("=", 1) for item in args.bot_env)
            bot.start()
            try:
                await wait_healthy(port, bot)
                await drive(args, engine, bot, port, platforms, leaders, figures)
            finally:
                bot.stop()
                figures.bot_errors = error_lines(folder)
                if args.keep_logs:
                    keep_logs(folder, Path(args.keep_logs), args.backend)
                await platforms.stop()
                await engine.dispose()
    figures.judge()
    return figures


def error_lines(folder: Path) -> dict[str, int]:
    """Count the bot's ERROR log lines by logger (it logs at WARNING and above)."""
    counts: dict[str, int] = {}
    for log in folder.glob("bot-*.log"):
        for line in log.read_text(errors="replace").splitlines():
            parts = line.split(" ", 4)
            if len(parts) > 3 and parts[2] == "ERROR":
                counts[parts[3]] = counts.get(parts[3], 0) + 1
    return counts


def keep_logs(folder: Path, into: Path, backend: str) -> None:
    """Copy the bot's logs out of the temporary folder."""
    into.mkdir(parents=True, exist_ok=True)
    for log in folder.glob("bot-*.log"):
        (into / f"{backend}-{log.name}").write_bytes(log.read_bytes())


async def drive(
    args: argparse.Namespace,
    engine: AsyncEngine,
    bot: Bot,
    port: int,
    platforms: world.Platforms,
    leaders: list[world.Leader],
    figures: Figures,
) -> None:
    """Let leaders answer, check every minute, crash once if asked, then count what was lost."""
    began = time.monotonic()
    stop = asyncio.Event()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        responders = world.Responders(
            http, platforms, leaders, seed=args.seed, outbox_refs=partial(outbox_refs, engine)
        )
        answering = asyncio.create_task(responders.run(stop))
        crashing = None
        if args.crash_after is not None:
            crashing = asyncio.create_task(
                _crash_later(args.crash_after, engine, bot, port, figures, responders)
            )
        next_check = began
        while (elapsed := time.monotonic() - began) < args.minutes * 60:
            if (dead := bot.death()) is not None and (crashing is None or crashing.done()):
                figures.died = dead
                break
            if time.monotonic() >= next_check:
                await _check(engine, bot, elapsed, figures)
                next_check += args.check_seconds
            await asyncio.sleep(1)
        stop.set()
        await answering
        if crashing is not None:
            await crashing
        figures.answers = dict(responders.counts)
        figures.answer_errors = dict(responders.errors)
        if figures.died is None:
            await _drain(engine, bot)
            figures.died = bot.death()
        await _count(engine, platforms, responders, figures)


async def _crash_later(
    after: float,
    engine: AsyncEngine,
    bot: Bot,
    port: int,
    figures: Figures,
    responders: world.Responders,
) -> None:
    await asyncio.sleep(after)
    await crash_and_restart(engine, bot, port, figures, responders)


async def _check(engine: AsyncEngine, bot: Bot, elapsed: float, figures: Figures) -> None:
    if bot.death() is not None:
        return
    figures.alive_checks += 1
    mb = rss_mb(bot.pid)
    counts = await outbox(engine, datetime.now(UTC))
    figures.rss_mb.append((round(elapsed / 60, 2), round(mb, 1), bot.starts))
    figures.overdue_max = max(figures.overdue_max, counts["overdue"])
    print(
        f"  {elapsed / 60:5.1f} min  alive  rss {mb:6.1f} MB  sent {counts.get('sent', 0):6d}"
        f"  due {counts['due_open']:5d}  overdue {counts['overdue']:4d}"
        f"  failed {counts.get('failed', 0) + counts.get('expired', 0)}",
        flush=True,
    )


async def _drain(engine: AsyncEngine, bot: Bot) -> None:
    """Give the bot up to two minutes to send what is already due."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and bot.death() is None:
        if (await outbox(engine, datetime.now(UTC)))["due_open"] == 0:
            return
        await asyncio.sleep(1)


async def _count(
    engine: AsyncEngine,
    platforms: world.Platforms,
    responders: world.Responders,
    figures: Figures,
) -> None:
    now = datetime.now(UTC)
    counts = await outbox(engine, now)
    figures.sent = counts.get("sent", 0)
    figures.failed = counts.get("failed", 0) + counts.get("expired", 0)
    figures.lost = counts["due_open"] + await sent_refs_missing(engine, platforms)
    figures.duplicates = platforms.log.duplicates(responders.excluded_chats)
    figures.pulse_cards = platforms.log.pulse_cards
    figures.closed_pulse_cards = platforms.log.closed_pulses


def report(figures: Figures) -> None:
    """Print the figures and the verdict."""
    print(f"soak {figures.backend}: {figures.people} people, {figures.minutes:g} min")
    print(f"  alive checks {figures.alive_checks}, died: {figures.died or 'no'}")
    curve = "  ".join(f"{minute:g}:{mb:.0f}" for minute, mb, _ in figures.rss_mb)
    print(f"  RSS curve (minute:MB): {curve}")
    if figures.rss_mb:
        values = [mb for _, mb, _ in figures.rss_mb]
        low, middle, high = min(values), statistics.median(values), max(values)
        print(f"  RSS min/median/max: {low:.0f}/{middle:.0f}/{high:.0f} MB")
    print(f"  sent {figures.sent}, lost {figures.lost}, failed {figures.failed}")
    print(
        f"  overdue (due over {OVERDUE_AFTER.seconds} s and unsent) at most {figures.overdue_max}"
    )
    print(f"  duplicates {figures.duplicates} (bound {IN_FLIGHT})")
    print(f"  pulse cards {figures.pulse_cards}, arrived closed {figures.closed_pulse_cards}")
    print(f"  answers {figures.answers}, refused {figures.answer_errors}")
    print(f"  errors the bot logged: {figures.bot_errors or 'none'}")
    if figures.crash is not None:
        print(f"  crash: {figures.crash} (target {RECOVERY_TARGET:g} s)")
    print("  PASS" if not figures.failures else "  FAIL: " + "; ".join(figures.failures))


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--tick", type=float, default=5)
    parser.add_argument("--every", type=int, default=3, help="minutes between campaign firings")
    parser.add_argument("--pulse-every", type=int, default=5, help="minutes between pulse rounds")
    parser.add_argument("--crash-after", type=float, default=None, help="seconds before a SIGKILL")
    parser.add_argument("--check-seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres-url", default=os.environ.get("TENKEPAUSE_TEST_POSTGRES_URL"))
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--bot-prefix", help="run the bot under this command, e.g. a debugger")
    parser.add_argument(
        "--bot-env",
        action="append",
        default=[],
        help="KEY=VALUE for the bot, e.g. PYTHONMALLOC=debug",
    )
    parser.add_argument("--keep-logs", help="copy the bot's logs into this folder")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the soak, print its figures, and return 0 when every target was met."""
    args = arguments(argv)
    figures = asyncio.run(soak(args))
    report(figures)
    if args.json:
        Path(args.json).write_text(json.dumps(asdict(figures), indent=2))
    return 0 if not figures.failures else 1


if __name__ == "__main__":
    sys.exit(main())
