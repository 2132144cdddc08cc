"""The outbox dispatcher: claim due deliveries, send each through its channel, record the result.

Crash safety rests on three rules (see docs/delivery.md):
- a row is claimed atomically before it is sent (PostgreSQL ``FOR UPDATE SKIP LOCKED``,
  a conditional UPDATE on SQLite), and a claim older than `claim_timeout` goes back to
  pending, so rows held by a dead instance are sent by another;
- a send task keeps its concurrency slot until its result is committed, so after a
  SIGKILL at most `concurrency` rows were sent but not recorded (the only duplicates);
- a row whose claim is half way to timing out is put back instead of sent, so a live
  instance never races a reclaim.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

import aiohttp
from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.port import Channel, PermanentFailure, RateLimited, TemporaryFailure
from bot.clock import Clock, SystemClock
from bot.core.messages import OutMessage
from scheduler import metrics
from scheduler.liveness import release_orphaned_claims
from scheduler.rate_limits import RateLimiter
from scheduler.retry_policy import RetryPolicy
from scheduler.rounds import open_due_pulse_rounds
from storage.models import (
    Campaign,
    Delivery,
    GroupChat,
    Identity,
    Occurrence,
    Person,
    Prompt,
    PulseRound,
)

log = logging.getLogger("tenkepause.dispatcher")

# Fallback order when a person has no usable preferred platform.
PLATFORM_ORDER = ("slack", "teams", "telegram", "webchat")
NO_CHANNEL = "no reachable channel"
DELIVERIES = cast(Table, Delivery.__table__)
IDENTITIES = cast(Table, Identity.__table__)
ERROR_LENGTH = 500
RENDER_SLICE = 8  # rows rendered between two yields to the event loop
# A send that would wait longer than this for its own chat's limit goes back to the outbox.
CHAT_WAIT_LIMIT = 2.0
# A failed group commit is retried after these pauses (doubling), never dropped.
JOURNAL_RETRY_FIRST = 0.2
JOURNAL_RETRY_MAX = 5.0
# Kinds that show a pulse round's card: sent only while the round is open.
PULSE_CARD_KINDS = frozenset({"pulse", "pulse_reminder"})
# Kinds that redraw a card sent earlier (the parent row) in place.
REFRESH_KINDS = frozenset({"pulse_refresh"})


class Renderer(Protocol):
    """Turn an outbox row into the message to send (bot/services/render.py has the real one)."""

    async def render(self, session: AsyncSession, delivery: Delivery) -> OutMessage:
        """Return the message for `delivery`."""
        ...


@dataclass(frozen=True, slots=True)
class Route:
    """Where one delivery goes."""

    platform: str
    address: dict[str, Any]
    identity_id: int | None
    group: bool
    # A conversation to open first with these people (a match's group DM), if any.
    members: tuple[dict[str, Any], ...] = ()
    # Set: replace this message we sent earlier instead of sending a new one.
    replaces: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one claimed delivery; one UPDATE of its row."""

    delivery_id: int
    kind: str
    status: str
    next_attempt_at: datetime
    attempts: int
    throttles: int
    platform: str | None = None
    message_ref: str | None = None
    sent_at: datetime | None = None
    error: str | None = None
    reason: str | None = None  # metric label for failures and retries
    unreachable: int | None = None  # identity to mark unreachable

    def params(self) -> dict[str, Any]:
        """Return the bind parameters of the row update."""
        return {
            "b_id": self.delivery_id,
            "b_status": self.status,
            "b_next": self.next_attempt_at,
            "b_attempts": self.attempts,
            "b_throttles": self.throttles,
            "b_platform": self.platform,
            "b_ref": self.message_ref,
            "b_sent_at": self.sent_at,
            "b_error": None if self.error is None else self.error[:ERROR_LENGTH],
        }


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed delivery ready to send."""

    base: Outcome  # the row as claimed, for building its outcome
    route: Route
    message: OutMessage
    claimed_mono: float


class Journal:
    """Write outcomes in group commits; `record` returns once its outcome is committed."""

    def __init__(self, write: Callable[[list[Outcome]], Awaitable[None]]) -> None:
        self._write = write
        self._queue: list[tuple[Outcome, asyncio.Future[None]]] = []
        self._wakeup = asyncio.Event()

    async def record(self, outcome: Outcome) -> None:
        """Queue `outcome` and wait until it is committed."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((outcome, future))
        self._wakeup.set()
        await future

    async def run(self) -> None:
        """Commit whatever has queued up, until cancelled.

        A failed commit is retried, with what queued meanwhile, until it succeeds: each
        outcome is something that already happened (a platform accepted a message), and
        one left unrecorded would be sent again once its claim went back.
        """
        pause = JOURNAL_RETRY_FIRST
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            batch, self._queue = self._queue, []
            if not batch:
                continue
            try:
                await self._write([outcome for outcome, _ in batch])
            except Exception as error:
                log.warning(
                    "could not record outcomes; retrying",
                    extra={"error": type(error).__name__, "count": len(batch)},
                )
                self._queue = batch + self._queue
                await asyncio.sleep(pause)
                pause = min(pause * 2, JOURNAL_RETRY_MAX)
                self._wakeup.set()
            else:
                pause = JOURNAL_RETRY_FIRST
                for _, future in batch:
                    future.set_result(None)


@dataclass
class Dispatcher:
    """Drain the outbox: claim, route, render, rate-limit, send and record."""

    sessions: async_sessionmaker[AsyncSession]
    channels: Mapping[str, Channel]
    renderer: Renderer
    clock: Clock = field(default_factory=SystemClock)
    instance: str = "dispatcher"
    batch: int = 200
    concurrency: int = 16
    limiter: RateLimiter = field(default_factory=RateLimiter)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    claim_timeout: float = 300.0
    # Set when instances beat (scheduler.liveness): claims of a silent instance go back
    # after this long instead of waiting out `claim_timeout`.
    orphan_grace: timedelta | None = None
    send_timeout: float = 60.0
    poll_interval: float = 1.0
    depth_interval: float = 1.0
    monotonic: Callable[[], float] = time.monotonic
    _depth_refreshed: float = field(default=float("-inf"), init=False)
    _stale_checked: datetime | None = field(default=None, init=False)

    # -- the loop ---------------------------------------------------------------------------

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Dispatch until `stop` is set, pausing `poll_interval` whenever nothing is due.

        The next batch is claimed and rendered while the current one sends; both share
        the same `concurrency` slots, so the duplicate bound after a crash is unchanged.
        """
        await self.recover()
        sending: set[asyncio.Task[None]] = set()
        async with self._pipeline() as send:
            while not stop.is_set():
                try:
                    count, jobs = await self._claim_and_prepare()
                except Exception as error:  # a database hiccup must not end the loop
                    log.error("dispatch round failed", extra={"error": type(error).__name__})
                    count, jobs = 0, []
                if jobs:
                    task = asyncio.create_task(send(jobs))
                    sending.add(task)
                    task.add_done_callback(_finished(sending))
                # At most one batch waits behind the one sending, so claims stay fresh.
                while len(sending) > 1:
                    await asyncio.wait(sending, return_when=asyncio.FIRST_COMPLETED)
                await self._maybe_refresh_depth(force=count == 0)
                if count == 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.poll_interval)
            await asyncio.gather(*sending, return_exceptions=True)

    async def run_once(self) -> int:
        """Claim one batch, send it and record every result; return how many rows were claimed."""
        count, jobs = await self._claim_and_prepare()
        if jobs:
            async with self._pipeline() as send:
                await send(jobs)
        return count

    async def _claim_and_prepare(self) -> tuple[int, list[Job]]:
        claimed = await self._claim()
        if not claimed:
            return 0, []
        claimed_mono = self.monotonic()
        jobs = await self._prepare([delivery_id for delivery_id, _ in claimed], claimed_mono)
        return len(claimed), jobs

    async def recover(self) -> int:
        """Put back rows an earlier process of this same instance name left claimed."""
        async with self.sessions() as session, session.begin():
            result = await session.execute(
                _release()
                .where(Delivery.status == "claimed", Delivery.claimed_by == self.instance)
                .execution_options(synchronize_session=False)
            )
        count = int(getattr(result, "rowcount", 0) or 0)
        if count:
            log.warning("released own stale claims", extra={"count": count})
        return count

    async def outstanding(self) -> int:
        """Return how many rows are pending or claimed (due or not)."""
        async with self.sessions() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.status.in_(("pending", "claimed")))
            )
        return int(count or 0)

    async def refresh_depth(self) -> int:
        """Set the outbox gauges (depth, claims, oldest claim) and return the depth."""
        async with self.sessions() as session:
            count = int(
                await session.scalar(
                    select(func.count()).select_from(Delivery).where(Delivery.status == "pending")
                )
                or 0
            )
            claimed, oldest = (
                await session.execute(
                    select(func.count(), func.min(Delivery.claimed_at)).where(
                        Delivery.status == "claimed"
                    )
                )
            ).one()
        metrics.OUTBOX_DEPTH.set(count)
        metrics.OUTBOX_CLAIMED.set(int(claimed or 0))
        age = (self.clock.now() - _aware(oldest)).total_seconds() if oldest is not None else 0.0
        metrics.OLDEST_CLAIM_AGE.set(max(0.0, age))
        self._depth_refreshed = self.monotonic()
        return count

    async def _maybe_refresh_depth(self, force: bool) -> None:
        if force or self.monotonic() - self._depth_refreshed >= self.depth_interval:
            with contextlib.suppress(Exception):
                await self.refresh_depth()

    # -- claiming ---------------------------------------------------------------------------

    async def _claim(self) -> list[tuple[int, datetime]]:
        now = self.clock.now()
        async with self.sessions() as session, session.begin():
            await self._release_stale(session, now)
            due = (
                select(Delivery.id)
                .where(Delivery.status == "pending", Delivery.next_attempt_at <= now)
                .order_by(Delivery.next_attempt_at, Delivery.id)
                .limit(self.batch)
            )
            if session.get_bind().dialect.name == "postgresql":
                # Lock first, then update by id: as an IN-subquery PostgreSQL may run the
                # locking SELECT more than once and claim more than `batch` rows.
                ids = list(await session.scalars(due.with_for_update(skip_locked=True)))
                if not ids:
                    return []
                chosen: Any = ids
            else:
                chosen = due.scalar_subquery()
            # The repeated status test is what makes SQLite's UPDATE a conditional claim.
            claim = (
                update(Delivery)
                .where(Delivery.id.in_(chosen), Delivery.status == "pending")
                .values(status="claimed", claimed_by=self.instance, claimed_at=now)
                .returning(Delivery.id, Delivery.next_attempt_at)
                .execution_options(synchronize_session=False)
            )
            rows = [(row[0], row[1]) for row in (await session.execute(claim)).all()]
        for _, due_at in rows:
            metrics.CLAIM_LATENCY.observe(max(0.0, (now - due_at).total_seconds()))
        return rows

    async def _release_stale(self, session: AsyncSession, now: datetime) -> None:
        # Claims go stale only after `orphan_grace` (or `claim_timeout`), so looking a few
        # times per that span is enough; looking at every claim cost a round trip per batch.
        checked = self._stale_checked
        if checked is not None and now - checked < self._stale_check_every:
            return
        self._stale_checked = now
        cutoff = now - timedelta(seconds=self.claim_timeout)
        result = await session.execute(
            _release()
            .where(Delivery.status == "claimed", Delivery.claimed_at < cutoff)
            .execution_options(synchronize_session=False)
        )
        count = int(getattr(result, "rowcount", 0) or 0)
        if count:
            log.warning("returned stale claims to pending", extra={"count": count})
        if self.orphan_grace is not None:
            orphans = release_orphaned_claims(now, self.orphan_grace, self.instance)
            result = await session.execute(orphans)
            orphaned = int(getattr(result, "rowcount", 0) or 0)
            if orphaned:
                log.warning("returned claims of a dead instance", extra={"count": orphaned})

    @property
    def _stale_check_every(self) -> timedelta:
        every = timedelta(seconds=self.claim_timeout / 10)
        if self.orphan_grace is not None:
            every = min(every, self.orphan_grace / 3)
        return every

    # -- routing and rendering --------------------------------------------------------------

    async def _open_pulse_rounds(self, ids: Sequence[int], now: datetime) -> None:
        """Open the due rounds of claimed pulse cards, in case the tick has not yet."""
        async with self.sessions() as session, session.begin():
            round_ids = set(
                await session.scalars(
                    select(Delivery.pulse_round_id).where(
                        Delivery.id.in_(ids),
                        Delivery.kind.in_(PULSE_CARD_KINDS),
                        Delivery.pulse_round_id.is_not(None),
                    )
                )
            )
            if round_ids:
                await open_due_pulse_rounds(session, now, only=round_ids)

    async def _prepare(self, ids: Sequence[int], claimed_mono: float) -> list[Job]:
        now = self.clock.now()
        jobs: list[Job] = []
        finished: list[Outcome] = []
        await self._open_pulse_rounds(ids, now)
        async with self.sessions() as session:
            rows = (await session.scalars(select(Delivery).where(Delivery.id.in_(ids)))).all()
            rounds = await _pulse_rounds(session, rows)
            parents = await _parents(session, rows)
            wanted = {r.person_id for r in rows if r.person_id} | _match_members(rows)
            people = await _people(session, wanted)
            chats = await _group_chats(session, {r.group_id for r in rows if r.person_id is None})
            # Kept alive while the batch renders: the session's identity map holds objects
            # only weakly, and the renderer's session.get calls should find them there.
            referenced = await _referenced(session, rows)
            for position, row in enumerate(sorted(rows, key=lambda r: r.id)):
                if position % RENDER_SLICE == RENDER_SLICE - 1:
                    # Let paced sends go out on time: rendering a whole batch without a
                    # break holds the event loop for tens of milliseconds, and sends
                    # released late in a bunch draw 429s from a strict per-second limit.
                    await asyncio.sleep(0)
                base = _base(row)
                if row.expires_at is not None and row.expires_at < now:
                    finished.append(replace(base, status="expired"))
                    continue
                held = _held_for_round(row, rounds, base, now)
                if held is not None:
                    finished.append(held)
                    continue
                if row.kind in REFRESH_KINDS:
                    route = _refresh_route(row, parents)
                else:
                    route = self._route(row, people, chats)
                if route is None:
                    finished.append(replace(base, status="failed", error=NO_CHANNEL))
                    continue
                try:
                    message = await self.renderer.render(session, row)
                except Exception as error:
                    # Only the type: an exception's text could quote the message.
                    reason = f"render error: {type(error).__name__}"
                    finished.append(replace(base, status="failed", error=reason, reason="render"))
                    continue
                jobs.append(Job(base, route, message, claimed_mono))
            del referenced
        if finished:
            await self._write(finished)
        return jobs

    def _route(
        self,
        row: Delivery,
        people: Mapping[int, Person],
        chats: Mapping[int, list[GroupChat]],
    ) -> Route | None:
        if row.person_id is None and row.match_id is not None:
            return self._conversation_route(row, people)
        if row.person_id is None:
            by_platform = {c.platform: c for c in chats.get(row.group_id or -1, [])}
            for platform in PLATFORM_ORDER:
                chat = by_platform.get(platform)
                if chat is not None and platform in self.channels:
                    return Route(platform, dict(chat.address), None, group=True)
            return None
        person = people.get(row.person_id)
        if person is None:
            return None
        usable = {
            i.platform: i
            for i in person.identities
            if i.status == "active" and i.platform in self.channels
        }
        preferred = person.preferred_platform
        order = ((preferred,) if preferred else ()) + PLATFORM_ORDER
        for platform in order:
            identity = usable.get(platform)
            if identity is not None:
                return Route(platform, dict(identity.address), identity.id, group=False)
        return None

    def _conversation_route(self, row: Delivery, people: Mapping[int, Person]) -> Route | None:
        """Route a delivery to a whole match, if every member is reachable on its platform."""
        platform = row.payload.get("group_conversation")
        if platform not in self.channels:
            return None
        addresses = []
        for person_id in row.payload.get("members", []):
            person = people.get(int(person_id))
            identity = next(
                (
                    i
                    for i in (person.identities if person else [])
                    if i.platform == platform and i.status == "active"
                ),
                None,
            )
            if identity is None:
                return None
            addresses.append(dict(identity.address))
        address = {"match": row.match_id}
        return Route(str(platform), address, None, group=True, members=tuple(addresses))

    # -- sending ----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _pipeline(
        self,
    ) -> AsyncIterator[Callable[[Sequence[Job]], Coroutine[Any, Any, None]]]:
        """Yield a `send(jobs)` that shares one set of slots and one group-commit journal."""
        slots = asyncio.Semaphore(self.concurrency)
        journal = Journal(self._write)
        writer = asyncio.create_task(journal.run())

        async def one(job: Job) -> None:
            # The slot is held until the outcome is committed: this bounds crash duplicates.
            async with slots:
                await journal.record(await self._send(job))

        async def send(jobs: Sequence[Job]) -> None:
            async with asyncio.TaskGroup() as group:
                for job in jobs:
                    group.create_task(one(job))

        try:
            yield send
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    def _claim_running_out(self, job: Job) -> bool:
        return self.monotonic() - job.claimed_mono > self.claim_timeout / 2

    async def _send(self, job: Job) -> Outcome:
        route, base = job.route, job.base
        if self._claim_running_out(job):
            return base
        busy_for = self.limiter.chat_wait(route.platform, route.address, route.group)
        if busy_for > CHAT_WAIT_LIMIT:
            # One chat's own limit (a coach getting many notices) must not hold the slots
            # every other chat waits for: back to the outbox until that chat is free.
            later = self.clock.now() + timedelta(seconds=busy_for)
            return replace(base, next_attempt_at=max(base.next_attempt_at, later))
        await self.limiter.acquire(route.platform, route.address, route.group)
        if self._claim_running_out(job):
            return base
        channel = self.channels[route.platform]
        try:
            ref = await asyncio.wait_for(_deliver(channel, route, job.message), self.send_timeout)
        except RateLimited as error:
            return self._throttled(job, error.retry_after)
        except PermanentFailure as error:
            return replace(
                base,
                status="failed",
                attempts=base.attempts + 1,
                platform=route.platform,
                error=error.reason,
                reason="permanent",
                unreachable=route.identity_id,
            )
        except TimeoutError:
            # Ambiguous: the platform may have accepted it. Retried anyway (docs/delivery.md).
            return self._backoff(job, "timeout", "timeout")
        except (TemporaryFailure, aiohttp.ClientError, OSError) as error:
            return self._backoff(job, "temporary", f"temporary: {type(error).__name__}")
        except Exception as error:  # a channel bug: retry with backoff, bounded by attempts
            return self._backoff(job, "temporary", f"unexpected: {type(error).__name__}")
        return replace(
            base,
            status="sent",
            attempts=base.attempts + 1,
            platform=route.platform,
            message_ref=ref,
            sent_at=self.clock.now(),
            error=None,
        )

    def _throttled(self, job: Job, retry_after: float) -> Outcome:
        base, route = job.base, job.route
        wait = self.retry.retry_after(retry_after)
        self.limiter.hold_off(route.platform, route.address, wait, route.group)
        throttles = base.throttles + 1
        if self.retry.throttled_out(throttles):
            return replace(
                base,
                status="failed",
                throttles=throttles,
                platform=route.platform,
                error=f"rate limited {throttles} times",
                reason="throttled",
            )
        return replace(
            base,
            status="pending",
            throttles=throttles,
            next_attempt_at=self.clock.now() + timedelta(seconds=wait),
            platform=route.platform,
            reason="rate_limited",
        )

    def _backoff(self, job: Job, reason: str, error: str) -> Outcome:
        base, route = job.base, job.route
        attempts = base.attempts + 1
        if self.retry.gives_up(attempts):
            return replace(
                base,
                status="failed",
                attempts=attempts,
                platform=route.platform,
                error=f"gave up after {attempts} attempts; last {error}",
                reason="attempts",
            )
        wait = self.retry.backoff(attempts)
        return replace(
            base,
            status="pending",
            attempts=attempts,
            next_attempt_at=self.clock.now() + timedelta(seconds=wait),
            platform=route.platform,
            error=error,
            reason=reason,
        )

    # -- recording --------------------------------------------------------------------------

    async def _write(self, outcomes: list[Outcome]) -> None:
        table = DELIVERIES
        rows = (
            update(table)
            .where(
                table.c.id == bindparam("b_id"),
                table.c.status == "claimed",
                table.c.claimed_by == self.instance,
            )
            .values(
                status=bindparam("b_status"),
                next_attempt_at=bindparam("b_next"),
                attempts=bindparam("b_attempts"),
                throttles=bindparam("b_throttles"),
                platform=bindparam("b_platform"),
                message_ref=bindparam("b_ref"),
                sent_at=bindparam("b_sent_at"),
                error=bindparam("b_error"),
                claimed_by=None,
                claimed_at=None,
            )
        )
        unreachable = [
            {"b_id": o.unreachable, "b_reason": (o.error or "")[:200]}
            for o in outcomes
            if o.unreachable is not None
        ]
        identities = IDENTITIES
        async with self.sessions() as session, session.begin():
            await session.execute(rows, [o.params() for o in outcomes])
            if unreachable:
                await session.execute(
                    update(identities)
                    .where(identities.c.id == bindparam("b_id"))
                    .values(status="unreachable", status_reason=bindparam("b_reason")),
                    unreachable,
                )
        for outcome in outcomes:
            _observe(outcome)


def _finished(tasks: set[asyncio.Task[None]]) -> Callable[[asyncio.Task[None]], None]:
    """Return a done-callback that forgets the task and logs how it failed, if it did."""

    def done(task: asyncio.Task[None]) -> None:
        tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("dispatch batch failed", extra={"error": type(error).__name__})

    return done


def _aware(instant: datetime) -> datetime:
    """Return `instant` with UTC attached if the driver handed it back naive."""
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)


def _release() -> Any:
    return update(Delivery).values(status="pending", claimed_by=None, claimed_at=None)


def _base(row: Delivery) -> Outcome:
    """Return an outcome that leaves `row` as it was, but pending and unclaimed."""
    return Outcome(
        delivery_id=row.id,
        kind=row.kind,
        status="pending",
        next_attempt_at=row.next_attempt_at,
        attempts=row.attempts,
        throttles=row.throttles,
        platform=row.platform,
        error=row.error,
    )


async def _deliver(channel: Channel, route: Route, message: OutMessage) -> str:
    """Send on `route`, first opening its group conversation when it names members."""
    if route.replaces is not None:
        await channel.update(route.replaces, message)
        return route.replaces
    address: Mapping[str, Any] = route.address
    if route.members:
        opened = await channel.open_group(route.members)
        if opened is None:
            raise PermanentFailure(f"{route.platform} cannot open a group conversation")
        address = opened
    return await channel.send(address, message)


async def _pulse_rounds(session: AsyncSession, rows: Sequence[Delivery]) -> dict[int, PulseRound]:
    ids = {r.pulse_round_id for r in rows if r.kind in PULSE_CARD_KINDS and r.pulse_round_id}
    if not ids:
        return {}
    found = await session.scalars(select(PulseRound).where(PulseRound.id.in_(ids)))
    return {pulse_round.id: pulse_round for pulse_round in found}


async def _parents(session: AsyncSession, rows: Sequence[Delivery]) -> dict[int, Delivery]:
    ids = {r.parent_id for r in rows if r.kind in REFRESH_KINDS and r.parent_id}
    if not ids:
        return {}
    found = await session.scalars(select(Delivery).where(Delivery.id.in_(ids)))
    return {parent.id: parent for parent in found}


def _held_for_round(
    row: Delivery, rounds: Mapping[int, PulseRound], base: Outcome, now: datetime
) -> Outcome | None:
    """Return what to do instead of sending a pulse card whose round is not open, if so.

    A round that opens later puts its card back until then; one that has closed has
    nothing left to answer, so its card expires unsent.
    """
    pulse_round = rounds.get(row.pulse_round_id or -1)
    if pulse_round is None or pulse_round.status == "open":
        return None
    if pulse_round.status == "scheduled" and pulse_round.opens_at > now:
        return replace(base, next_attempt_at=pulse_round.opens_at)
    return replace(base, status="expired", error="the pulse round is not open")


def _refresh_route(row: Delivery, parents: Mapping[int, Delivery]) -> Route | None:
    """Route a redraw to the platform and message of the card it redraws."""
    parent = parents.get(row.parent_id or -1)
    if parent is None or parent.platform is None or parent.message_ref is None:
        return None
    return Route(parent.platform, {}, None, group=False, replaces=parent.message_ref)


def _match_members(rows: Sequence[Delivery]) -> set[int]:
    """Return the people named by deliveries that go to a whole match."""
    return {
        int(person_id)
        for row in rows
        if row.person_id is None and row.match_id is not None
        for person_id in row.payload.get("members", [])
    }


async def _people(session: AsyncSession, ids: set[int]) -> dict[int, Person]:
    if not ids:
        return {}
    people = await session.scalars(select(Person).where(Person.id.in_(ids)))
    return {person.id: person for person in people}


async def _group_chats(session: AsyncSession, ids: set[int | None]) -> dict[int, list[GroupChat]]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    chats: dict[int, list[GroupChat]] = {}
    for chat in await session.scalars(select(GroupChat).where(GroupChat.group_id.in_(wanted))):
        chats.setdefault(chat.group_id, []).append(chat)
    return chats


async def _referenced(session: AsyncSession, rows: Sequence[Delivery]) -> list[object]:
    """Load the prompts, occurrences and campaigns `rows` point at, three queries in all.

    The renderer looks them up with ``session.get``; with them loaded into the session
    those lookups need no round trip, instead of three per delivery.
    """
    loaded: list[object] = []
    prompt_ids = {r.prompt_id for r in rows if r.prompt_id is not None}
    occurrence_ids = {r.occurrence_id for r in rows if r.occurrence_id is not None}
    if occurrence_ids:
        occurrences = (
            await session.scalars(select(Occurrence).where(Occurrence.id.in_(occurrence_ids)))
        ).all()
        loaded.extend(occurrences)
        prompt_ids.update(o.prompt_id for o in occurrences)
        campaign_ids = {o.campaign_id for o in occurrences if o.campaign_id is not None}
        if campaign_ids:
            campaigns = await session.scalars(select(Campaign).where(Campaign.id.in_(campaign_ids)))
            loaded.extend(campaigns.all())
    if prompt_ids:
        loaded.extend(
            (await session.scalars(select(Prompt).where(Prompt.id.in_(prompt_ids)))).all()
        )
    return loaded


def _observe(outcome: Outcome) -> None:
    """Count and log one recorded outcome; never with message text."""
    platform = outcome.platform or "none"
    fields = {
        "delivery_id": outcome.delivery_id,
        "kind": outcome.kind,
        "platform": platform,
        "status": outcome.status,
    }
    if outcome.status == "sent":
        metrics.SENT.labels(platform).inc()
        log.debug("delivery sent", extra=fields)
    elif outcome.status == "expired":
        metrics.EXPIRED.inc()
        log.info("delivery expired", extra=fields)
    elif outcome.status == "failed":
        reason = outcome.reason or "no_channel"
        metrics.FAILED.labels(platform, reason).inc()
        log.warning("delivery failed", extra={**fields, "reason": reason, "error": outcome.error})
    elif outcome.reason is not None:
        metrics.RETRIED.labels(platform, outcome.reason).inc()
        log.info("delivery retried", extra={**fields, "reason": outcome.reason})
