"""The roster import service: upserts by email, moves between groups, identities, links."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.problems import InvalidInput
from bot.core.roster import Creating
from bot.services.roster_import import ImportCounts, run_roster_import
from storage.models import (
    AuditEntry,
    Cohort,
    CohortMembership,
    GroupMembership,
    Identity,
    PeerGroup,
    Person,
)
from tests.factories import T0
from tests.roster.helpers import EXAMPLE, contents

Sessions = async_sessionmaker[AsyncSession]
ASE = "ase.odegard@trondheim.kommune.example"
HEADER = (
    "email;name;role;unit;manager_email;cohort;group;locale;timezone;slack_id;telegram_username"
)


def example() -> str:
    """Return the example roster's text."""
    return EXAMPLE.read_text(encoding="utf-8")


def changed(text: str, email: str, **values: str) -> str:
    """Return roster text with some columns of one person's row replaced."""
    lines = text.splitlines()
    columns = lines[0].split(";")
    for index, line in enumerate(lines):
        cells = line.split(";")
        if cells[0] == email:
            for column, value in values.items():
                cells[columns.index(column)] = value
            lines[index] = ";".join(cells)
    return "\n".join(lines) + "\n"


async def load(sessions: Sessions, text: str, *, dry_run: bool = False) -> ImportCounts:
    """Import roster text as the CLI would."""
    return await run_roster_import(
        sessions,
        text.encode("utf-8"),
        "roster.csv",
        now=T0,
        dry_run=dry_run,
        creating=Creating(cohorts=True),
    )


async def groups_of(session: AsyncSession, email: str) -> list[str]:
    """Return the names of the peer groups a person is in."""
    rows = await session.execute(
        select(PeerGroup.name)
        .join(GroupMembership, GroupMembership.group_id == PeerGroup.id)
        .join(Person, Person.id == GroupMembership.person_id)
        .where(Person.email == email)
    )
    return sorted(rows.scalars())


async def cohorts_of(session: AsyncSession, email: str) -> list[tuple[str, str]]:
    """Return (cohort name, role) for each cohort a person belongs to."""
    rows = await session.execute(
        select(Cohort.name, CohortMembership.role)
        .join(CohortMembership, CohortMembership.cohort_id == Cohort.id)
        .join(Person, Person.id == CohortMembership.person_id)
        .where(Person.email == email)
    )
    return sorted((name, role) for name, role in rows)


async def test_the_example_builds_people_managers_memberships_and_identities(
    sessions: Sessions,
) -> None:
    counts = await load(sessions, example())
    assert (counts.created, counts.cohorts_created, counts.groups_created) == (30, 2, 4)
    async with sessions() as session:
        ase = (await session.execute(select(Person).where(Person.email == ASE))).scalar_one()
        manager = await session.get(Person, ase.manager_id)
        assert (ase.name, ase.unit, manager.name if manager else None) == (
            "Åse Ødegård",
            "Helse og velferd",
            "Ingrid Solberg-Aune",
        )
        assert await groups_of(session, ASE) == ["kull-1-gruppe-1"]
        coach = "jon.are.saether@trondheim.kommune.example"
        assert await cohorts_of(session, coach) == [("kull-2", "coach")]
        assert await groups_of(session, coach) == []
        assert await cohorts_of(session, "tone.bjorgen.aas@trondheim.kommune.example") == []
        [slack] = ase.identities
        assert (slack.platform, slack.external_id, slack.address, slack.status) == (
            "slack",
            "U05TKA0006",
            {"user": "U05TKA0006"},
            "active",
        )
        hilde = (
            await session.execute(
                select(Person).where(Person.email == "hilde.kasen@trondheim.kommune.example")
            )
        ).scalar_one()
        assert (hilde.telegram_username, hilde.slack_id, hilde.identities) == (
            "hildekaasen",
            None,
            [],
        )
        okafor = (
            await session.execute(
                select(Person.timezone, Person.locale).where(Person.email.like("daniel.okafor%"))
            )
        ).one()
        assert tuple(okafor) == ("America/New_York", "en")
        audit = (await session.execute(select(AuditEntry))).scalar_one()
        assert (audit.action, audit.detail["created"], audit.detail["rows"]) == (
            "roster.import",
            30,
            30,
        )


async def test_moving_a_person_to_another_group_and_cohort(sessions: Sessions) -> None:
    await load(sessions, example())
    moved = changed(example(), ASE, group="kull-1-gruppe-2")
    counts = await load(sessions, moved)
    assert (counts.created, counts.updated, counts.unchanged) == (0, 1, 29)
    async with sessions() as session:
        assert await groups_of(session, ASE) == ["kull-1-gruppe-2"]
        assert await cohorts_of(session, ASE) == [("kull-1", "participant")]

    to_kull_2 = changed(moved, ASE, cohort="kull-2", group="kull-2-gruppe-1")
    assert (await load(sessions, to_kull_2)).updated == 1
    async with sessions() as session:
        assert await groups_of(session, ASE) == ["kull-2-gruppe-1"]
        assert await cohorts_of(session, ASE) == [("kull-2", "participant")]

    out_of_group = changed(to_kull_2, ASE, group="")
    assert (await load(sessions, out_of_group)).updated == 1
    async with sessions() as session:
        assert await groups_of(session, ASE) == []
        assert await cohorts_of(session, ASE) == [("kull-2", "participant")]


async def test_changed_fields_are_updated_and_people_missing_from_the_file_are_deactivated(
    sessions: Sessions,
) -> None:
    await load(sessions, example())
    text = changed(
        example(),
        ASE,
        name="Åse Ødegård Lie",
        locale="nn",
        timezone="Europe/Stockholm",
        manager_email="siri.ostgard@trondheim.kommune.example",
        role="coach",
        group="",
    )
    kept_out = "mats.hoiseth@trondheim.kommune.example"
    text = "\n".join(line for line in text.splitlines() if not line.startswith(kept_out)) + "\n"

    counts = await load(sessions, text)

    assert (counts.rows, counts.created, counts.updated, counts.unchanged) == (29, 0, 1, 28)
    assert counts.deactivated == 1 and counts.summary().endswith("deactivated 1")
    async with sessions() as session:
        ase = (await session.execute(select(Person).where(Person.email == ASE))).scalar_one()
        manager = await session.get(Person, ase.manager_id)
        assert (ase.name, ase.locale, ase.timezone, ase.role) == (
            "Åse Ødegård Lie",
            "nn",
            "Europe/Stockholm",
            "coach",
        )
        assert manager is not None and manager.email == "siri.ostgard@trondheim.kommune.example"
        assert await cohorts_of(session, ASE) == [("kull-1", "coach")]
        assert await session.scalar(select(func.count()).select_from(Person)) == 30
        gone = (await session.execute(select(Person).where(Person.email == kept_out))).scalar_one()
        assert gone.deactivated_at == T0 and ase.deactivated_at is None

    # Named again, the person is active again; nobody else changes.
    again = await load(sessions, changed(example(), ASE, name="Åse Ødegård Lie"))
    assert (again.deactivated, again.summary().count("deactivated")) == (0, 0)
    async with sessions() as session:
        back = (await session.execute(select(Person).where(Person.email == kept_out))).scalar_one()
        assert back.deactivated_at is None


async def test_a_new_slack_id_updates_the_identity_and_an_empty_one_keeps_it(
    sessions: Sessions,
) -> None:
    await load(sessions, example())
    assert (await load(sessions, changed(example(), ASE, slack_id="U05NEW0006"))).updated == 1
    assert (await load(sessions, changed(example(), ASE, slack_id=""))).updated == 0
    async with sessions() as session:
        ase = (await session.execute(select(Person).where(Person.email == ASE))).scalar_one()
        [slack] = ase.identities
        assert (ase.slack_id, slack.external_id, slack.address) == (
            "U05NEW0006",
            "U05NEW0006",
            {"user": "U05NEW0006"},
        )


async def test_managers_and_groups_already_in_the_database_are_used(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        session.add(Person(email="sjef@trondheim.kommune.example", name="Sjef Sjefsen"))
        kull = Cohort(name="kull-3")
        session.add(kull)
        await session.flush()
        session.add(PeerGroup(name="kull-3-gruppe-1", cohort_id=kull.id))
        session.add(PeerGroup(name="kull-3-gruppe-2"))
    text = "\n".join(
        [
            HEADER,
            "a@trondheim.kommune.example;Ådne Å;participant;;sjef@trondheim.kommune.example;"
            "kull-3;kull-3-gruppe-1;;;;",
            "b@trondheim.kommune.example;Bodil B;participant;;;kull-3;kull-3-gruppe-2;;;;",
        ]
    )
    counts = await load(sessions, text)
    assert (counts.created, counts.cohorts_created, counts.groups_created) == (2, 0, 0)
    async with sessions() as session:
        group = (
            await session.execute(select(PeerGroup).where(PeerGroup.name == "kull-3-gruppe-2"))
        ).scalar_one()
        kull_3 = (await session.execute(select(Cohort).where(Cohort.name == "kull-3"))).scalar_one()
        assert group.cohort_id == kull_3.id
        a = (await session.execute(select(Person).where(Person.email.like("a@%")))).scalar_one()
        sjef = await session.get(Person, a.manager_id)
        assert sjef is not None and sjef.name == "Sjef Sjefsen"


async def test_a_group_that_belongs_to_another_cohort_in_the_database_is_refused(
    sessions: Sessions,
) -> None:
    await load(sessions, example())
    async with sessions() as session:
        before = await contents(session)
    text = changed(example(), ASE, cohort="kull-2")
    with pytest.raises(InvalidInput) as refused:
        await load(sessions, text)
    assert [str(p) for p in refused.value.problems] == [
        "roster.csv row 7, column group: group 'kull-1-gruppe-1' belongs to cohort 'kull-1' "
        "in the database, not 'kull-2'"
    ]
    async with sessions() as session:
        assert await contents(session) == before


async def test_a_dry_run_reports_the_changes_it_would_make_and_makes_none(
    sessions: Sessions,
) -> None:
    await load(sessions, example())
    async with sessions() as session:
        before = await contents(session)
    counts = await load(sessions, changed(example(), ASE, unit="Oppvekst"), dry_run=True)
    assert (counts.created, counts.updated, counts.unchanged) == (0, 1, 29)
    async with sessions() as session:
        assert await contents(session) == before
        identities = await session.scalar(select(func.count()).select_from(Identity))
        assert identities == 28
