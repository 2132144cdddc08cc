"""Run one dispatcher as its own process: ``python -m scheduler.dispatch_worker --help``.

Channels and the renderer are named as ``module:callable`` so this entry point stays free of
any one platform (the crash tests plug in a fake HTTP platform). Each channel factory is
called as ``factory(platform=..., **channel_args)``. SIGTERM and SIGINT stop it after the
current batch; SIGKILL is what the crash tests use.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import os
import signal
import socket
from collections.abc import Sequence
from typing import Any

from bot.core.problems import InvalidInput
from bot.log_format import configure_logging
from bot.settings import get_settings
from scheduler import metrics
from scheduler.dispatcher import Dispatcher
from scheduler.rate_limits import RateLimiter
from scheduler.retry_policy import RetryPolicy
from storage.engine import make_engine, make_sessionmaker


def load(target: str) -> Any:
    """Import ``module:attribute`` and return the attribute."""
    module, _, attribute = target.partition(":")
    if not module or not attribute:
        raise ValueError(f"{target!r} is not module:callable")
    return getattr(importlib.import_module(module), attribute)


def _pairs(items: Sequence[str], option: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"{option} {item!r}: expected KEY=VALUE")
        pairs[key.strip()] = value.strip()
    return pairs


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Read the command line; defaults come from the settings."""
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m scheduler.dispatch_worker")
    add = parser.add_argument
    add("--database-url", default=settings.database_url)
    add("--channel", action="append", default=[], metavar="PLATFORM=module:callable")
    add("--channel-arg", action="append", default=[], metavar="KEY=VALUE")
    add("--renderer", required=True, metavar="module:callable")
    add("--instance", default=settings.instance_name or f"{socket.gethostname()}:{os.getpid()}")
    add("--batch", type=int, default=settings.dispatch_batch)
    add("--concurrency", type=int, default=settings.dispatch_concurrency)
    add("--claim-timeout", type=float, default=300.0, metavar="SECONDS")
    add("--poll", type=float, default=settings.dispatch_seconds, metavar="SECONDS")
    add("--rate-limits", default=settings.rate_limits, help="as TENKEPAUSE_RATE_LIMITS")
    add("--max-attempts", type=int, default=settings.max_attempts)
    add("--backoff-base", type=float, default=1.0, metavar="SECONDS")
    add("--backoff-cap", type=float, default=300.0, metavar="SECONDS")
    add("--exit-when-drained", action="store_true", help="stop once nothing is pending or claimed")
    add("--log-level", default=settings.log_level)
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Dispatch until stopped (or drained); return a summary."""
    channel_args = _pairs(args.channel_arg, "--channel-arg")
    channels = {}
    for platform, target in _pairs(args.channel, "--channel").items():
        channels[platform] = load(target)(platform=platform, **channel_args)
    try:
        limiter = RateLimiter.from_setting(args.rate_limits)
    except InvalidInput as error:
        raise SystemExit(str(error)) from None
    engine = make_engine(args.database_url)
    dispatcher = Dispatcher(
        sessions=make_sessionmaker(engine),
        channels=channels,
        renderer=load(args.renderer)(),
        instance=args.instance,
        batch=args.batch,
        concurrency=args.concurrency,
        limiter=limiter,
        retry=RetryPolicy(
            max_attempts=args.max_attempts, base=args.backoff_base, cap=args.backoff_cap
        ),
        claim_timeout=args.claim_timeout,
        poll_interval=args.poll,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    async def watch_drained() -> None:
        while not stop.is_set():
            if await dispatcher.outstanding() == 0:
                stop.set()
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), args.poll)

    try:
        tasks = [dispatcher.run_forever(stop)]
        if args.exit_when_drained:
            tasks.append(watch_drained())
        await asyncio.gather(*tasks)
    finally:
        for channel in channels.values():
            close = getattr(channel, "close", None)
            if close is not None:
                await close()
        await engine.dispose()
    return {"instance": args.instance, "sent": _total(metrics.SENT)}


def _total(counter: Any) -> float:
    return float(
        sum(
            sample.value
            for metric in counter.collect()
            for sample in metric.samples
            if sample.name.endswith("_total")
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the worker and print a one-line JSON summary."""
    args = parse_args(argv)
    configure_logging(args.log_level, get_settings().secret_values())
    summary = asyncio.run(run(args))
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
