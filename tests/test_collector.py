"""The cyclic garbage collector runs from the event loop, not at the interpreter's whim."""

from __future__ import annotations

import asyncio
import gc
import sys
from typing import Any

from bot.collector import FULL_EVERY, MIDDLE_EVERY, collecting_on_the_loop, generation, needed


def test_auto_means_the_loop_on_311_only() -> None:
    assert needed("auto") is (sys.version_info < (3, 12))
    assert needed("loop") and not needed("automatic")


def test_young_objects_often_everything_now_and_then() -> None:
    counts = [generation(n) for n in range(1, FULL_EVERY + 1)]
    assert counts.count(2) == 1 and counts[-1] == 2
    assert counts.count(1) == FULL_EVERY // MIDDLE_EVERY - 1
    assert set(counts) == {0, 1, 2}


async def test_the_loop_collects_and_the_interpreter_does_not_while_it_runs() -> None:
    started: list[int] = []

    def note(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started.append(info["generation"])

    gc.callbacks.append(note)
    try:
        async with collecting_on_the_loop("loop"):
            assert not gc.isenabled()
            await asyncio.sleep(0.35)
        assert gc.isenabled()
    finally:
        gc.callbacks.remove(note)
    assert len(started) >= 2, started
