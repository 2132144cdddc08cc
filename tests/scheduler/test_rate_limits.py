"""Token buckets on a fake monotonic clock: limits hold without the tests waiting."""

from __future__ import annotations

import heapq
import itertools

import pytest

from bot.core.problems import InvalidInput
from scheduler.rate_limits import (
    DEFAULT_LIMITS,
    Rate,
    RateLimiter,
    TokenBucket,
    parse_limits,
    parse_rate,
)


class FakeTime:
    """A monotonic clock that sleeping moves forward; records each sleep."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def limiter(spec: str = "") -> tuple[RateLimiter, FakeTime]:
    """Return a limiter from `spec` on fake time."""
    time = FakeTime()
    return RateLimiter.from_setting(spec, time.monotonic, time.sleep), time


async def send_times(
    limiter: RateLimiter, time: FakeTime, chats: list[str], group: bool = False
) -> list[float]:
    """Acquire once per chat in order; return when each send could go, from the start."""
    start, times = time.now, []
    for chat in chats:
        await limiter.acquire("telegram", {"chat": chat}, group)
        times.append(round(time.now - start, 6))
    return times


def most_in_any_window(times: list[float], window: float) -> int:
    """Return the largest number of sends inside any half-open window of that length.

    The window is shortened by 10 µs so float rounding cannot count a send twice.
    """
    end = window - 1e-5
    return max(sum(1 for t in times if start <= t < start + end) for start in times)


def test_parse_rate_accepts_seconds_minutes_hours_and_multiples() -> None:
    assert parse_rate("30/s") == Rate(30, 1)
    assert parse_rate("20/min") == Rate(20, 60)
    assert parse_rate("1/2s") == Rate(1, 2)
    assert parse_rate("100 / h") == Rate(100, 3600)
    for bad in ("30", "x/s", "0/s", "5/fortnight"):
        with pytest.raises(ValueError):
            parse_rate(bad)


def test_defaults_follow_each_platform() -> None:
    assert DEFAULT_LIMITS["telegram"] == {
        "global": Rate(29, 1),  # Telegram's 30/s, less 1/s of headroom for jitter
        "chat": Rate(1, 1),
        "group": Rate(20, 60),
    }
    assert DEFAULT_LIMITS["slack"]["chat"] == Rate(1, 1)
    assert "global" in DEFAULT_LIMITS["slack"]
    assert DEFAULT_LIMITS["webchat"] == {}


def test_overrides_aliases_and_off() -> None:
    limits = parse_limits("telegram.global=10/s, slack.channel=2/s, slack.workspace=off, teams=off")
    assert limits["telegram"]["global"] == Rate(10, 1)
    assert limits["telegram"]["chat"] == Rate(1, 1)  # untouched default
    assert limits["slack"] == {"chat": Rate(2, 1)}
    assert limits["teams"] == {}
    assert parse_limits("off") == {platform: {} for platform in DEFAULT_LIMITS}
    assert parse_limits("") == DEFAULT_LIMITS


def test_bad_settings_name_every_item_and_where() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_limits("telegram.chat=fast,icq.global=1/s,slack.room=1/s,telegram")
    lines = str(caught.value).splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("TENKEPAUSE_RATE_LIMITS item 1 ('telegram.chat=fast')")
    assert "unknown platform 'icq'" in lines[1]
    assert "unknown scope 'room'" in lines[2]
    assert "expected platform.scope=RATE" in lines[3]


async def test_global_limit_spaces_sends_evenly() -> None:
    bucket, time = limiter("telegram.global=30/s,telegram.chat=off")

    times = await send_times(bucket, time, [str(n) for n in range(90)])

    assert times[-1] == pytest.approx(89 / 30)
    assert most_in_any_window(times, 1.0) == 30


def test_sends_woken_late_do_not_bunch_into_a_burst() -> None:
    # 60 sends reserve their slots at 30/s; the event loop then stalls for half a second,
    # so the first 15 wake together. By reservations alone they would all go at once.
    time = FakeTime()
    bucket = TokenBucket(Rate(30, 1), monotonic=time.monotonic)
    reserved = [time.now + bucket.delay() for _ in range(60)]
    stall_ends = time.now + 0.5
    wakes = [(max(at, stall_ends), n) for n, at in enumerate(reserved)]
    heapq.heapify(wakes)
    went: list[float] = []
    while wakes:
        time.now, n = heapq.heappop(wakes)
        wait = bucket.blocked_for()
        if wait > 0:
            heapq.heappush(wakes, (time.now + wait, n))
        else:
            bucket.record()
            went.append(round(time.now - 100.0, 6))

    assert most_in_any_window([max(at, stall_ends) - 100.0 for at in reserved], 1.0) > 30
    assert len(went) == 60
    assert most_in_any_window(sorted(went), 1.0) == 30
    gaps = [later - earlier for earlier, later in itertools.pairwise(sorted(went))]
    assert min(gaps) > 1 / 60 - 1e-5  # catching up at twice the rate, not all at once
    assert max(went) < 59 / 30 + 1 / 60 + 1e-5  # and the stall cost at most half a slot


async def test_one_message_per_second_per_chat_but_chats_run_in_parallel() -> None:
    bucket, time = limiter("telegram.global=off,telegram.chat=1/s")

    same = await send_times(bucket, time, ["a", "a", "a"])
    others = await send_times(bucket, time, ["b", "c", "d"])

    assert same == [0.0, 1.0, 2.0]
    assert others == [0.0, 0.0, 0.0]


async def test_group_chats_are_held_to_twenty_a_minute() -> None:
    bucket, time = limiter()

    times = await send_times(bucket, time, ["-100"] * 21, group=True)

    assert most_in_any_window(times, 60.0) == 20
    assert times[-1] == pytest.approx(60.0)


async def test_hold_off_after_a_429_delays_that_chat_only() -> None:
    bucket, time = limiter("telegram.global=off")
    bucket.hold_off("telegram", {"chat": "a"}, 5.0)

    assert await send_times(bucket, time, ["b"]) == [0.0]
    assert await send_times(bucket, time, ["a"]) == [5.0]


async def test_off_and_unlimited_platforms_never_sleep() -> None:
    time = FakeTime()
    off = RateLimiter.off()
    off.sleep = time.sleep
    for _ in range(100):
        await off.acquire("telegram", {"chat": "a"})
        await off.acquire("webchat", {"chat": "a"})
    assert time.sleeps == []


async def test_idle_buckets_are_forgotten() -> None:
    bucket, time = limiter("telegram.global=off")
    bucket.max_idle_buckets = 10
    await send_times(bucket, time, [str(n) for n in range(10)])
    time.now += 5

    await send_times(bucket, time, ["new"])

    assert len(bucket._buckets) == 1
