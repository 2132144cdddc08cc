"""Kill the dispatcher process mid fan-out, restart it, and count what arrived twice.

The worker is `python -m scheduler.dispatch_worker` sending to the fake HTTP platform
(which records every message it accepts). Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.models import Delivery
from tests.fakes.flaky_platform import FlakyPlatform
from tests.scheduler.outbox_seed import seed_outbox

ROOT = Path(__file__).resolve().parents[2]
COUNT = 5000
CONCURRENCY = 16
BATCH = 100
CLAIM_TIMEOUT = 2.0

pytestmark = pytest.mark.slow


def worker_command(
    db_url: str, platform_url: str, instance: str, claim_timeout: float
) -> list[str]:
    """Return the command line of one dispatcher process against the fake platform."""
    return [
        sys.executable,
        "-m",
        "scheduler.dispatch_worker",
        "--database-url",
        db_url,
        "--channel",
        "telegram=tests.fakes.http_channel:FakeHttpChannel",
        "--channel-arg",
        f"base_url={platform_url}",
        "--renderer",
        "tests.fakes.key_renderer:KeyRenderer",
        "--instance",
        instance,
        "--batch",
        str(BATCH),
        "--concurrency",
        str(CONCURRENCY),
        "--claim-timeout",
        str(claim_timeout),
        "--poll",
        "0.1",
        "--rate-limits",
        "off",
        "--exit-when-drained",
        "--log-level",
        "WARNING",
    ]


@asynccontextmanager
async def worker(
    db_url: str, platform_url: str, instance: str, logs: Path, claim_timeout: float = 30.0
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run one dispatcher process; kill it on the way out if it is still running."""
    log = (logs / f"{instance}.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        *worker_command(db_url, platform_url, instance, claim_timeout),
        cwd=ROOT,
        stdout=log,
        stderr=log,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        log.close()


async def wait_for_exit(process: asyncio.subprocess.Process, logs: Path, seconds: float) -> None:
    """Wait for a worker to drain and exit cleanly, showing its log if it did not."""
    async with asyncio.timeout(seconds):
        code = await process.wait()
    if code != 0:
        text = "\n".join(p.read_text(errors="replace")[-3000:] for p in logs.glob("*.log"))
        pytest.fail(f"worker exited with {code}:\n{text}")


async def status_counts(engine: AsyncEngine) -> dict[str, int]:
    """Return how many deliveries are in each status."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(Delivery.status, func.count()).group_by(Delivery.status)
        )
        return {status: int(count) for status, count in rows.all()}


async def test_sigkill_mid_fanout_then_restart_delivers_to_everyone(
    backend: str, db_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    await seed_outbox(engine, COUNT, datetime.now(UTC))
    # A small delay per request keeps sends in flight, so the kill lands mid-send.
    platform = FlakyPlatform(delay=0.01)
    url = await platform.start()
    try:
        async with worker(db_url, url, "crash-first", tmp_path, CLAIM_TIMEOUT) as first:
            async with asyncio.timeout(60):
                while len(platform.received) < COUNT // 3:
                    assert first.returncode is None, "the worker stopped before the kill"
                    await asyncio.sleep(0.005)
            first.kill()  # SIGKILL: no cleanup, claims and in-flight sends are abandoned
            await first.wait()
        at_kill = len(platform.received)
        left_claimed = (await status_counts(engine)).get("claimed", 0)
        # A new process (a new instance name) must wait out the dead one's claims.
        async with worker(db_url, url, "crash-second", tmp_path, CLAIM_TIMEOUT) as second:
            await wait_for_exit(second, tmp_path, 90)
    finally:
        await platform.stop()

    duplicates = platform.duplicates()
    print(
        f"\ncrash test [{backend}]: {COUNT} deliveries, killed after {at_kill} received "
        f"with {left_claimed} rows left claimed; after restart {len(platform.received)} "
        f"received, {len(platform.chats())} people reached, duplicates={duplicates} "
        f"(bound: concurrency {CONCURRENCY})"
    )
    assert platform.chats() == {f"p{n}" for n in range(COUNT)}
    assert duplicates <= CONCURRENCY
    assert await status_counts(engine) == {"sent": COUNT}


async def test_two_dispatcher_processes_drain_without_duplicates_or_gaps(
    backend: str, db_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    if backend != "postgres":
        pytest.skip("two dispatcher processes are a PostgreSQL deployment")
    await seed_outbox(engine, COUNT, datetime.now(UTC))
    platform = FlakyPlatform()
    url = await platform.start()
    try:
        async with (
            worker(db_url, url, "pair-a", tmp_path) as a,
            worker(db_url, url, "pair-b", tmp_path) as b,
        ):
            await asyncio.gather(wait_for_exit(a, tmp_path, 90), wait_for_exit(b, tmp_path, 90))
    finally:
        await platform.stop()

    print(
        f"\ntwo dispatchers [{backend}]: {len(platform.received)} received for {COUNT} "
        f"deliveries, duplicates={platform.duplicates()}, "
        f"missing={COUNT - len(platform.chats())}"
    )
    assert platform.duplicates() == 0
    assert platform.chats() == {f"p{n}" for n in range(COUNT)}
    assert len(platform.received) == COUNT
    assert await status_counts(engine) == {"sent": COUNT}
