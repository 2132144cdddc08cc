"""The two loops `tenkepause run` keeps going: the scheduler and the outbox dispatcher."""

from __future__ import annotations

import asyncio

from bot.runtime import Runtime
from bot.services.render import OutboxRenderer
from scheduler.dispatcher import Dispatcher
from scheduler.liveness import Heartbeat
from scheduler.rate_limits import RateLimiter
from scheduler.retry_policy import RetryPolicy
from scheduler.service import start_scheduler, stop_scheduler


def build_dispatcher(runtime: Runtime) -> Dispatcher:
    """Return a dispatcher over every enabled channel, configured from settings."""
    settings = runtime.settings
    return Dispatcher(
        sessions=runtime.sessions,
        channels=runtime.channels,
        renderer=OutboxRenderer(),
        clock=runtime.clock,
        instance=runtime.instance,
        batch=settings.dispatch_batch,
        concurrency=settings.dispatch_concurrency,
        limiter=RateLimiter.from_setting(settings.rate_limits),
        retry=RetryPolicy(max_attempts=settings.max_attempts),
        poll_interval=settings.dispatch_seconds,
        claim_timeout=settings.claim_timeout_seconds,
        orphan_grace=heartbeat_of(runtime).ttl,
    )


def heartbeat_of(runtime: Runtime) -> Heartbeat:
    """Return the heartbeat that tells other instances this one is alive."""
    return Heartbeat(
        runtime.engine, runtime.instance, runtime.clock, seconds=runtime.settings.heartbeat_seconds
    )


async def run_dispatcher(runtime: Runtime, stop: asyncio.Event) -> None:
    """Beat and send from the outbox until `stop` is set.

    The first beat comes before the first claim, so no other instance takes this one's
    fresh claims for a dead instance's.
    """
    heartbeat = heartbeat_of(runtime)
    await heartbeat.beat()
    beating = asyncio.create_task(heartbeat.run(stop))
    try:
        await build_dispatcher(runtime).run_forever(stop)
    finally:
        await beating


async def run_scheduler(runtime: Runtime, stop: asyncio.Event) -> None:
    """Contend for leadership and tick while leading, until `stop` is set."""
    scheduler = await start_scheduler(runtime)
    try:
        await stop.wait()
    finally:
        await stop_scheduler(scheduler)
