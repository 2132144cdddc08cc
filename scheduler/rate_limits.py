"""Per-platform send rate limits: async token buckets keyed by platform, scope and chat.

Scopes: ``global`` (the whole bot on that platform; aliases ``workspace``, ``overall``),
``chat`` (every conversation we post to; aliases ``channel``, ``conversation``) and
``group`` (group conversations only). Configuration is a comma-separated list such as
``telegram.global=30/s,telegram.chat=1/s,slack.channel=1/s``; ``off`` alone turns every
limit off, ``telegram=off`` turns one platform's limits off and ``telegram.group=off``
one scope. Rates are ``N/s``, ``N/min`` or ``N/h``.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.core.problems import InvalidInput, Problem

Monotonic = Callable[[], float]
Sleep = Callable[[float], Awaitable[Any]]

SETTING = "TENKEPAUSE_RATE_LIMITS"
SLACK = 1e-6  # seconds
SCOPES = ("global", "chat", "group")
SCOPE_ALIASES = {
    "global": "global",
    "workspace": "global",
    "overall": "global",
    "chat": "chat",
    "channel": "chat",
    "conversation": "chat",
    "group": "group",
}
UNITS = {"s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0}
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)?\s*([a-z]+)\s*$")


@dataclass(frozen=True, slots=True)
class Rate:
    """`count` messages per `per` seconds."""

    count: float
    per: float

    @property
    def interval(self) -> float:
        """Return the seconds between two sends at this rate."""
        return self.per / self.count

    def __str__(self) -> str:
        return f"{self.count:g}/{self.per:g}s"


# Defaults follow each platform's published rules (see docs/delivery.md for sources).
DEFAULT_LIMITS: dict[str, dict[str, Rate]] = {
    # Bot API FAQ: about 30 messages/s overall, 1/s per chat, 20/min per group. Overall we
    # send 29/s: at exactly 30/s, timing jitter alone puts 31 sends into some one-second
    # window and draws 429s (bench/fanout.py measures this against a strict window).
    "telegram": {"global": Rate(29, 1), "chat": Rate(1, 1), "group": Rate(20, 60)},
    # chat.postMessage: 1/s per channel, plus a workspace-wide cap of "several hundred
    # per minute"; we take the low end.
    "slack": {"global": Rate(300, 60), "chat": Rate(1, 1)},
    # Teams: 7 operations/s per bot per conversation, 50 requests/s per app per tenant.
    "teams": {"global": Rate(50, 1), "chat": Rate(7, 1)},
    "webchat": {},
}


def parse_rate(text: str) -> Rate:
    """Parse ``30/s``, ``20/min``, ``1/2s`` or ``100/h``; raise ValueError if malformed."""
    match = _RATE.match(text.lower())
    if match is None:
        raise ValueError(f"{text!r} is not a rate like 30/s or 20/min")
    count, multiple, unit = float(match[1]), float(match[2] or 1), match[3]
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r} in {text!r} (use s, min or h)")
    if count <= 0 or multiple <= 0:
        raise ValueError(f"{text!r} must be positive")
    return Rate(count, multiple * UNITS[unit])


def parse_limits(
    spec: str, defaults: Mapping[str, Mapping[str, Rate]] = DEFAULT_LIMITS
) -> dict[str, dict[str, Rate]]:
    """Return the defaults overridden by `spec`; raise InvalidInput naming every bad item."""
    limits = {platform: dict(scopes) for platform, scopes in defaults.items()}
    spec = spec.strip()
    if spec.lower() == "off":
        return {platform: {} for platform in limits}
    problems: list[Problem] = []
    for position, item in enumerate(filter(None, (i.strip() for i in spec.split(","))), 1):
        where = f"{SETTING} item {position} ({item!r})"
        name, sep, value = item.partition("=")
        platform, _, scope_name = name.strip().lower().partition(".")
        value = value.strip().lower()
        if not sep or not platform:
            problems.append(Problem(where, "expected platform.scope=RATE, e.g. telegram.chat=1/s"))
            continue
        if platform not in limits:
            problems.append(Problem(where, f"unknown platform {platform!r}"))
            continue
        if not scope_name:
            if value == "off":
                limits[platform] = {}
            else:
                problems.append(Problem(where, "give a scope (global, chat, group) or 'off'"))
            continue
        scope = SCOPE_ALIASES.get(scope_name)
        if scope is None:
            problems.append(Problem(where, f"unknown scope {scope_name!r}; use {SCOPES}"))
            continue
        if value == "off":
            limits[platform].pop(scope, None)
            continue
        try:
            limits[platform][scope] = parse_rate(value)
        except ValueError as error:
            problems.append(Problem(where, str(error)))
    if problems:
        raise InvalidInput(problems)
    return limits


@dataclass
class TokenBucket:
    """A bucket refilled at `rate` holding at most `burst` tokens (GCRA, reservation-based).

    Each caller reserves its slot before sleeping, so waiters are served in order
    without a lock or a polling loop. Reservations alone are not enough: a waiter the
    event loop wakes late (a busy loop, a garbage collection) goes out together with the
    waiters behind it, and the platform sees a burst. So the bucket also remembers when
    sends really went, and `blocked_for` holds a send back while the last `rate.per`
    seconds already hold `rate.count` of them, or the last send went less than half an
    interval ago: after a stall, sends catch up at twice the rate, never in a bunch.
    """

    rate: Rate
    burst: float = 1.0
    monotonic: Monotonic = time.monotonic
    _tat: float | None = None  # theoretical arrival time of the next free slot
    _sent: deque[float] = field(default_factory=deque)  # when recent sends went, oldest first

    def delay(self) -> float:
        """Reserve the next slot and return how long to wait for it."""
        now = self.monotonic()
        tat = now if self._tat is None else max(self._tat, now)
        wait = tat - now - (self.burst - 1) * self.rate.interval
        self._tat = tat + self.rate.interval
        return max(0.0, wait)

    def blocked_for(self) -> float:
        """Return how long a send must still wait so no window of `rate.per` seconds holds
        more than `rate.count` sends (0 if it may go now)."""
        now, sent = self.monotonic(), self._sent
        while sent and now - sent[0] >= self.rate.per:
            sent.popleft()
        if not sent:
            return 0.0
        wait = sent[-1] + self.rate.interval / 2 - now
        if len(sent) >= max(1, int(self.rate.count)):
            wait = max(wait, sent[0] + self.rate.per - now)
        return wait if wait > SLACK else 0.0  # a microsecond is float noise, not a burst

    def wait_now(self) -> float:
        """Return how long a send would wait for this bucket, without reserving a slot."""
        now = self.monotonic()
        queued = 0.0 if self._tat is None else self._tat - now
        return max(0.0, queued - (self.burst - 1) * self.rate.interval, self.blocked_for())

    def record(self) -> None:
        """Note that a send goes now."""
        self._sent.append(self.monotonic())

    def hold_off(self, seconds: float) -> None:
        """Refuse slots for `seconds` (the platform said Retry-After)."""
        now = self.monotonic()
        self._tat = max(self._tat or now, now + seconds)

    def idle(self) -> bool:
        """Tell whether the bucket is full again and its sends have left the window."""
        now = self.monotonic()
        if self._tat is not None and self._tat > now:
            return False
        return not self._sent or now - self._sent[-1] >= self.rate.per


def address_key(address: Mapping[str, Any]) -> str:
    """Return a stable key for one conversation address."""
    return json.dumps(address, sort_keys=True, default=str)


@dataclass
class RateLimiter:
    """Wait for every bucket that applies to one send: the chat's first, then the global one."""

    limits: Mapping[str, Mapping[str, Rate]] = field(default_factory=lambda: DEFAULT_LIMITS)
    monotonic: Monotonic = time.monotonic
    sleep: Sleep = asyncio.sleep
    max_idle_buckets: int = 10_000
    _buckets: dict[tuple[str, str, str], TokenBucket] = field(default_factory=dict)

    @classmethod
    def from_setting(
        cls, spec: str, monotonic: Monotonic = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> RateLimiter:
        """Build from TENKEPAUSE_RATE_LIMITS (empty = defaults, ``off`` = none)."""
        return cls(parse_limits(spec), monotonic, sleep)

    @classmethod
    def off(cls) -> RateLimiter:
        """Return a limiter that never waits."""
        return cls({platform: {} for platform in DEFAULT_LIMITS})

    def _bucket(self, platform: str, scope: str, key: str) -> TokenBucket | None:
        rate = self.limits.get(platform, {}).get(scope)
        if rate is None:
            return None
        bucket = self._buckets.get((platform, scope, key))
        if bucket is None:
            if len(self._buckets) >= self.max_idle_buckets:
                self._forget_idle()
            bucket = TokenBucket(rate, monotonic=self.monotonic)
            self._buckets[(platform, scope, key)] = bucket
        return bucket

    def _forget_idle(self) -> None:
        for name in [name for name, bucket in self._buckets.items() if bucket.idle()]:
            del self._buckets[name]

    def _applicable(
        self, platform: str, address: Mapping[str, Any], group: bool
    ) -> list[TokenBucket]:
        key = address_key(address)
        scopes = (
            (("group", key), ("chat", key), ("global", ""))
            if group
            else (
                ("chat", key),
                ("global", ""),
            )
        )
        buckets = (self._bucket(platform, scope, k) for scope, k in scopes)
        return [bucket for bucket in buckets if bucket is not None]

    async def acquire(self, platform: str, address: Mapping[str, Any], group: bool = False) -> None:
        """Wait until one message to `address` on `platform` is within every limit."""
        buckets = self._applicable(platform, address, group)
        for bucket in buckets:
            wait = bucket.delay()
            if wait > 0:
                await self.sleep(wait)
        # Checked and recorded for every bucket at the moment the send really goes.
        while (wait := max((bucket.blocked_for() for bucket in buckets), default=0.0)) > 0:
            await self.sleep(wait)
        for bucket in buckets:
            bucket.record()

    def chat_wait(self, platform: str, address: Mapping[str, Any], group: bool = False) -> float:
        """Return how long the next send to `address` would wait for its chat's own limits.

        Nothing is reserved: the dispatcher asks before it takes a slot, and puts a row back
        rather than let one busy chat hold the slots every other chat is waiting for.
        """
        key = address_key(address)
        scopes = ("group", "chat") if group else ("chat",)
        buckets = (self._bucket(platform, scope, key) for scope in scopes)
        return max((b.wait_now() for b in buckets if b is not None), default=0.0)

    def hold_off(
        self, platform: str, address: Mapping[str, Any], seconds: float, group: bool = False
    ) -> None:
        """Pause sends to `address` for `seconds` after the platform answered 429."""
        buckets = self._applicable(platform, address, group)
        if buckets:
            buckets[0].hold_off(seconds)
