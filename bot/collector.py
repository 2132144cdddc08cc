"""Run Python's cyclic garbage collector from the event loop, between callbacks.

On CPython 3.11 the collector, when it starts on its own in the middle of an allocation,
can run while SQLAlchemy's asyncio bridge is inside a greenlet switch, or in an aiosqlite
worker thread, and the process then dies of a segmentation fault minutes into a busy
run (docs/segfault.md). Here the automatic collector is switched off and a task collects
instead, at the top of the event loop, where no greenlet is running: young objects often,
everything now and then, as the interpreter itself would under load.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
from collections.abc import AsyncIterator

log = logging.getLogger(__name__)

YOUNG_EVERY = 0.1  # seconds between collections of the youngest generation
MIDDLE_EVERY = 25  # of those, every 25th collects the middle generation too
FULL_EVERY = 300  # and every 300th (about 30 s) collects everything


def needed(mode: str) -> bool:
    """Tell whether to collect from the loop: `loop`, `automatic`, or `auto` (3.11 only)."""
    if mode == "auto":
        return sys.version_info < (3, 12)
    return mode == "loop"


def generation(count: int) -> int:
    """Return which generation the `count`-th collection covers."""
    if count % FULL_EVERY == 0:
        return 2
    if count % MIDDLE_EVERY == 0:
        return 1
    return 0


async def collect_forever() -> None:
    """Collect on the loop until cancelled."""
    count = 0
    while True:
        await asyncio.sleep(YOUNG_EVERY)
        count += 1
        gc.collect(generation(count))


@contextlib.asynccontextmanager
async def collecting_on_the_loop(mode: str) -> AsyncIterator[None]:
    """Switch the automatic collector off and collect from the loop, if `mode` asks for it."""
    if not needed(mode):
        yield
        return
    was_enabled = gc.isenabled()
    gc.disable()
    task = asyncio.create_task(collect_forever())
    log.info("garbage collection runs on the event loop", extra={"mode": mode})
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if was_enabled:
            gc.enable()
