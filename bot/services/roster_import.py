"""Import a roster into the database: people, memberships and Slack identities, all or nothing.

The whole import is one transaction. Existing rows are read in bulk up front, every row
is validated against them, and only then are people, cohorts, groups, memberships and
identities written with bulk statements (no SELECT per row).

The roster is authoritative for what it names: a person's fields, manager, cohort and peer
group. An empty `slack_id` or `telegram_username` leaves a known one alone (it may have been
linked another way). People missing from the file are never deleted but deactivated: every
dashboard and web chat session of theirs ends, and none starts until a roster names them
again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.problems import InvalidInput
from bot.core.roster import Creating, KnownState, RosterRow, decode_roster, read_roster
from bot.services.web_sessions import end_sessions_of
from storage.models import (
    AuditEntry,
    Cohort,
    CohortMembership,
    GroupMembership,
    Identity,
    PeerGroup,
    Person,
)
from storage.queries.audience import skip_pending_deliveries

CHUNK = 1000
_PERSON_FIELDS = ("name", "role", "unit", "locale", "timezone", "slack_id", "telegram_username")
T = TypeVar("T")


class ImportProgress(Protocol):
    """Receives how far the database phase has come (e.g. to draw a progress bar)."""

    def start(self, total: int) -> None:
        """Announce how many items will be written."""

    def advance(self, description: str, amount: int) -> None:
        """Report that `amount` more items were written while doing `description`."""


class _Silent:
    def start(self, total: int) -> None:
        pass

    def advance(self, description: str, amount: int) -> None:
        pass


@dataclass(frozen=True, slots=True)
class ImportCounts:
    """What an import did (or, in a dry run, would do)."""

    rows: int
    created: int
    updated: int
    unchanged: int
    cohorts_created: int
    groups_created: int
    deactivated: int = 0
    # The names of the cohorts and (group, cohort) pairs created, so a dry run can show them.
    new_cohorts: tuple[str, ...] = ()
    new_groups: tuple[tuple[str, str], ...] = ()

    def summary(self) -> str:
        """Return ``created N, updated N, unchanged N`` and, if any, ``deactivated N``."""
        line = f"created {self.created}, updated {self.updated}, unchanged {self.unchanged}"
        return line + (f", deactivated {self.deactivated}" if self.deactivated else "")


@dataclass(slots=True)
class _PersonNow:
    id: int
    fields: dict[str, Any]
    manager_id: int | None


@dataclass(slots=True)
class _Snapshot:
    """Everything the import compares against, loaded with one SELECT per table."""

    people: dict[str, _PersonNow] = field(default_factory=dict)
    emails: dict[int, str] = field(default_factory=dict)
    cohorts: dict[str, int] = field(default_factory=dict)
    groups: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    # person id -> [(membership id, cohort id, role)]
    cohort_members: dict[int, list[tuple[int, int, str]]] = field(default_factory=dict)
    # person id -> [(membership id, group id)]
    group_members: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    # person id -> (identity id, Slack user id)
    slack: dict[int, tuple[int, str]] = field(default_factory=dict)
    deactivated: set[str] = field(default_factory=set)

    def known(self) -> KnownState:
        """Return what validation needs to know about the database."""
        cohort_names = {cohort_id: name for name, cohort_id in self.cohorts.items()}
        return KnownState(
            emails=frozenset(self.people),
            cohorts=frozenset(self.cohorts),
            group_cohorts={
                name: cohort_names.get(cohort_id) if cohort_id is not None else None
                for name, (_, cohort_id) in self.groups.items()
            },
            slack_owners={
                external_id: self.emails[person_id]
                for person_id, (_, external_id) in self.slack.items()
            },
        )


@dataclass(slots=True)
class _Plan:
    """Every write the import will make, by email and name (ids resolved while writing)."""

    cohorts: list[str] = field(default_factory=list)
    groups: list[tuple[str, str]] = field(default_factory=list)
    group_cohorts: list[tuple[int, str]] = field(default_factory=list)
    new_people: list[RosterRow] = field(default_factory=list)
    person_updates: list[dict[str, Any]] = field(default_factory=list)
    managers: list[tuple[str, str | None]] = field(default_factory=list)
    cohort_deletes: list[int] = field(default_factory=list)
    cohort_role_updates: list[dict[str, Any]] = field(default_factory=list)
    cohort_inserts: list[tuple[str, str, str]] = field(default_factory=list)
    group_deletes: list[int] = field(default_factory=list)
    group_inserts: list[tuple[str, str]] = field(default_factory=list)
    slack_inserts: list[tuple[str, str]] = field(default_factory=list)
    slack_updates: list[dict[str, Any]] = field(default_factory=list)
    leaving: list[int] = field(default_factory=list)
    returning: list[int] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)

    def size(self) -> int:
        """Return how many items will be written."""
        return sum(
            len(part)
            for part in (
                self.cohorts,
                self.groups,
                self.group_cohorts,
                self.new_people,
                self.person_updates,
                self.managers,
                self.cohort_deletes,
                self.cohort_role_updates,
                self.cohort_inserts,
                self.group_deletes,
                self.group_inserts,
                self.slack_inserts,
                self.slack_updates,
                self.leaving,
                self.returning,
            )
        )


async def run_roster_import(
    sessions: async_sessionmaker[AsyncSession],
    data: bytes,
    source: str,
    *,
    now: datetime,
    dry_run: bool = False,
    creating: Creating | None = None,
    progress: ImportProgress | None = None,
) -> ImportCounts:
    """Import a roster in one transaction; commit it, or roll it back on a dry run or error."""
    async with sessions() as session:
        try:
            counts = await import_roster(
                session, data, source, now=now, creating=creating, progress=progress
            )
        except BaseException:
            await session.rollback()
            raise
        if dry_run:
            await session.rollback()
        else:
            await session.commit()
        return counts


async def import_roster(
    session: AsyncSession,
    data: bytes,
    source: str,
    *,
    now: datetime,
    creating: Creating | None = None,
    progress: ImportProgress | None = None,
) -> ImportCounts:
    """Validate a roster and write it through `session`; the caller commits or rolls back.

    Raise InvalidInput listing every problem (row and column) before anything is written.
    A cohort or peer group that neither the database nor `creating` allows is a problem.
    """
    text, problems = decode_roster(data, source)
    if problems:
        raise InvalidInput(problems)
    snapshot = await _load(session)
    report = read_roster(text, source, snapshot.known(), creating)
    if report.problems:
        raise InvalidInput(report.problems)
    rows = report.rows
    plan = _plan(rows, snapshot)
    await _write(session, plan, snapshot, progress or _Silent())
    await _deactivate(session, plan, now, progress or _Silent())
    created = len(plan.new_people)
    updated = len(plan.touched - {row.email for row in plan.new_people})
    counts = ImportCounts(
        rows=len(rows),
        created=created,
        updated=updated,
        unchanged=len(rows) - created - updated,
        cohorts_created=len(plan.cohorts),
        groups_created=len(plan.groups),
        deactivated=len(plan.leaving),
        new_cohorts=tuple(plan.cohorts),
        new_groups=tuple(plan.groups),
    )
    session.add(
        AuditEntry(
            action="roster.import",
            subject=source[-200:],
            detail={
                "rows": counts.rows,
                "created": counts.created,
                "updated": counts.updated,
                "unchanged": counts.unchanged,
                "cohorts_created": counts.cohorts_created,
                "groups_created": counts.groups_created,
                "deactivated": counts.deactivated,
            },
        )
    )
    await session.flush()
    return counts


async def _load(session: AsyncSession) -> _Snapshot:
    snapshot = _Snapshot()
    people = await session.execute(
        select(
            Person.id,
            Person.email,
            Person.manager_id,
            Person.deactivated_at,
            *(getattr(Person, name) for name in _PERSON_FIELDS),
        )
    )
    for person_id, email, manager_id, deactivated_at, *values in people:
        snapshot.people[email] = _PersonNow(
            person_id, dict(zip(_PERSON_FIELDS, values, strict=True)), manager_id
        )
        snapshot.emails[person_id] = email
        if deactivated_at is not None:
            snapshot.deactivated.add(email)
    snapshot.cohorts = {
        name: i for i, name in await session.execute(select(Cohort.id, Cohort.name))
    }
    groups = await session.execute(select(PeerGroup.id, PeerGroup.name, PeerGroup.cohort_id))
    snapshot.groups = {name: (i, cohort_id) for i, name, cohort_id in groups}
    cohort_members = await session.execute(
        select(
            CohortMembership.id,
            CohortMembership.person_id,
            CohortMembership.cohort_id,
            CohortMembership.role,
        )
    )
    for membership_id, person_id, cohort_id, role in cohort_members:
        snapshot.cohort_members.setdefault(person_id, []).append((membership_id, cohort_id, role))
    group_members = await session.execute(
        select(GroupMembership.id, GroupMembership.person_id, GroupMembership.group_id)
    )
    for membership_id, person_id, group_id in group_members:
        snapshot.group_members.setdefault(person_id, []).append((membership_id, group_id))
    slack = await session.execute(
        select(Identity.id, Identity.person_id, Identity.external_id).where(
            Identity.platform == "slack"
        )
    )
    snapshot.slack = {person_id: (i, external_id) for i, person_id, external_id in slack}
    return snapshot


def _wanted_fields(row: RosterRow, now: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "name": row.name,
        "role": row.role.value,
        "unit": row.unit,
        "locale": row.locale.value,
        "timezone": row.timezone,
        "slack_id": row.slack_id or (now or {}).get("slack_id"),
        "telegram_username": row.telegram_username or (now or {}).get("telegram_username"),
    }


def _plan(rows: Sequence[RosterRow], snapshot: _Snapshot) -> _Plan:
    plan = _Plan()
    _plan_cohorts_and_groups(rows, snapshot, plan)
    for row in rows:
        now = snapshot.people.get(row.email)
        if now is None:
            plan.new_people.append(row)
            if row.manager_email:
                plan.managers.append((row.email, row.manager_email))
        else:
            _plan_person(row, now, snapshot, plan)
        _plan_cohort_membership(row, now, snapshot, plan)
        _plan_group_membership(row, now, snapshot, plan)
        _plan_slack(row, now, snapshot, plan)
    _plan_leaving(rows, snapshot, plan)
    return plan


def _plan_leaving(rows: Sequence[RosterRow], snapshot: _Snapshot, plan: _Plan) -> None:
    named = {row.email for row in rows}
    for email, now in snapshot.people.items():
        if email not in named and email not in snapshot.deactivated:
            plan.leaving.append(now.id)
        elif email in named and email in snapshot.deactivated:
            plan.returning.append(now.id)
            plan.touched.add(email)


async def _deactivate(
    session: AsyncSession, plan: _Plan, now: datetime, progress: ImportProgress
) -> None:
    """Deactivate people the file no longer names (ending their sessions); revive returners."""
    for ids, value, what in (
        (plan.leaving, now, "people who left"),
        (plan.returning, None, "people who returned"),
    ):
        for part in _chunks(ids):
            await session.execute(
                update(Person), [{"id": i, "deactivated_at": value} for i in part]
            )
            progress.advance(what, len(part))
    await end_sessions_of(session, plan.leaving)
    await skip_pending_deliveries(session, plan.leaving)


def _plan_cohorts_and_groups(rows: Sequence[RosterRow], snapshot: _Snapshot, plan: _Plan) -> None:
    for row in rows:
        if row.cohort and row.cohort not in snapshot.cohorts and row.cohort not in plan.cohorts:
            plan.cohorts.append(row.cohort)
    seen: set[str] = set()
    for row in rows:
        if not row.group or not row.cohort or row.group in seen:
            continue
        seen.add(row.group)
        existing = snapshot.groups.get(row.group)
        if existing is None:
            plan.groups.append((row.group, row.cohort))
        elif existing[1] is None:
            plan.group_cohorts.append((existing[0], row.cohort))


def _plan_person(row: RosterRow, now: _PersonNow, snapshot: _Snapshot, plan: _Plan) -> None:
    wanted = _wanted_fields(row, now.fields)
    if wanted != now.fields:
        plan.person_updates.append({"id": now.id, **wanted})
        plan.touched.add(row.email)
    manager_now = snapshot.emails.get(now.manager_id) if now.manager_id is not None else None
    if manager_now != row.manager_email:
        plan.managers.append((row.email, row.manager_email))
        plan.touched.add(row.email)


def _plan_cohort_membership(
    row: RosterRow, now: _PersonNow | None, snapshot: _Snapshot, plan: _Plan
) -> None:
    current = snapshot.cohort_members.get(now.id, []) if now else []
    cohort_id = snapshot.cohorts.get(row.cohort) if row.cohort else None
    keep = None
    for membership_id, member_cohort, role in current:
        if row.cohort and member_cohort == cohort_id and keep is None:
            keep = (membership_id, role)
        else:
            plan.cohort_deletes.append(membership_id)
            plan.touched.add(row.email)
    if row.cohort is None:
        return
    if keep is None:
        plan.cohort_inserts.append((row.email, row.cohort, row.role.value))
        plan.touched.add(row.email)
    elif keep[1] != row.role.value:
        plan.cohort_role_updates.append({"id": keep[0], "role": row.role.value})
        plan.touched.add(row.email)


def _plan_group_membership(
    row: RosterRow, now: _PersonNow | None, snapshot: _Snapshot, plan: _Plan
) -> None:
    current = snapshot.group_members.get(now.id, []) if now else []
    group = snapshot.groups.get(row.group) if row.group else None
    kept = False
    for membership_id, group_id in current:
        if group is not None and group_id == group[0] and not kept:
            kept = True
        else:
            plan.group_deletes.append(membership_id)
            plan.touched.add(row.email)
    if row.group and not kept:
        plan.group_inserts.append((row.email, row.group))
        plan.touched.add(row.email)


def _plan_slack(row: RosterRow, now: _PersonNow | None, snapshot: _Snapshot, plan: _Plan) -> None:
    if not row.slack_id:
        return
    current = snapshot.slack.get(now.id) if now else None
    if current is None:
        plan.slack_inserts.append((row.email, row.slack_id))
        plan.touched.add(row.email)
    elif current[1] != row.slack_id:
        plan.slack_updates.append(
            {
                "id": current[0],
                "external_id": row.slack_id,
                "address": {"user": row.slack_id},
                "status": "active",
            }
        )
        plan.touched.add(row.email)


async def _write(
    session: AsyncSession, plan: _Plan, snapshot: _Snapshot, progress: ImportProgress
) -> None:
    progress.start(plan.size())
    cohorts = dict(snapshot.cohorts)
    groups = {name: group_id for name, (group_id, _) in snapshot.groups.items()}
    people = {email: now.id for email, now in snapshot.people.items()}

    async def updated(model: Any, values: list[dict[str, Any]], what: str) -> None:
        for part in _chunks(values):
            await session.execute(update(model), part)
            progress.advance(what, len(part))

    async def deleted(model: Any, ids: list[int], what: str) -> None:
        for part in _chunks(ids, 500):
            await session.execute(delete(model).where(model.id.in_(part)))
            progress.advance(what, len(part))

    for part in _chunks(plan.cohorts):
        result = await session.execute(
            insert(Cohort).returning(Cohort.id, Cohort.name), [{"name": name} for name in part]
        )
        cohorts.update({name: i for i, name in result})
        progress.advance("cohorts", len(part))
    for groups_part in _chunks(plan.groups):
        values = [{"name": name, "cohort_id": cohorts[cohort]} for name, cohort in groups_part]
        result = await session.execute(
            insert(PeerGroup).returning(PeerGroup.id, PeerGroup.name), values
        )
        groups.update({name: i for i, name in result})
        progress.advance("peer groups", len(groups_part))
    await updated(
        PeerGroup,
        [{"id": i, "cohort_id": cohorts[cohort]} for i, cohort in plan.group_cohorts],
        "peer groups",
    )
    for people_part in _chunks(plan.new_people):
        values = [{"email": row.email, **_wanted_fields(row, None)} for row in people_part]
        result = await session.execute(insert(Person).returning(Person.id, Person.email), values)
        people.update({email: i for i, email in result})
        progress.advance("people", len(people_part))
    await updated(Person, plan.person_updates, "people")
    # Managers may be people created above, so they are linked in a second pass.
    await updated(
        Person,
        [
            {"id": people[email], "manager_id": people[manager] if manager else None}
            for email, manager in plan.managers
        ],
        "managers",
    )
    await deleted(CohortMembership, plan.cohort_deletes, "cohort memberships")
    await updated(CohortMembership, plan.cohort_role_updates, "cohort memberships")
    await _insert_plain(
        session,
        CohortMembership,
        [
            {"person_id": people[email], "cohort_id": cohorts[cohort], "role": role}
            for email, cohort, role in plan.cohort_inserts
        ],
        progress,
        "cohort memberships",
    )
    await deleted(GroupMembership, plan.group_deletes, "group memberships")
    await _insert_plain(
        session,
        GroupMembership,
        [
            {"person_id": people[email], "group_id": groups[group]}
            for email, group in plan.group_inserts
        ],
        progress,
        "group memberships",
    )
    await _insert_plain(
        session,
        Identity,
        [
            {
                "person_id": people[email],
                "platform": "slack",
                "external_id": slack_id,
                "address": {"user": slack_id},
                "status": "active",
            }
            for email, slack_id in plan.slack_inserts
        ],
        progress,
        "Slack identities",
    )
    await updated(Identity, plan.slack_updates, "Slack identities")


async def _insert_plain(
    session: AsyncSession,
    model: Any,
    values: list[dict[str, Any]],
    progress: ImportProgress,
    what: str,
) -> None:
    for part in _chunks(values):
        await session.execute(insert(model), part)
        progress.advance(what, len(part))


def _chunks(items: Sequence[T] | Iterable[T], size: int = CHUNK) -> list[list[T]]:
    items = list(items)
    return [items[start : start + size] for start in range(0, len(items), size)]
