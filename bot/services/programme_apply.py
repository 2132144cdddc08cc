"""Validate a programme file against the database, and apply it in one idempotent transaction.

Everything is upserted by name or key and compared before it is written, so applying the
same file twice changes nothing. Nothing that answers hang on is ever deleted: a campaign,
survey or peer round missing from the file is set inactive, a pulse item missing from its
survey is retired (`active=False`), and prompts are only ever added or updated.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.programme_file import (
    AudienceSpec,
    CampaignSpec,
    KnownNames,
    PeerRoundSpec,
    ProgrammeSpec,
    PulseItemRef,
    PulseSpec,
    ScheduleSpec,
    parse_programme,
)
from bot.prompts.bank import PromptBank
from storage.engine import is_sqlite, make_engine
from storage.migrate import current_revision, head_revision
from storage.models import (
    Audience,
    AuditEntry,
    Base,
    Campaign,
    CampaignPrompt,
    Cohort,
    PeerGroup,
    PeerSeries,
    Prompt,
    PulseItem,
    PulseSurvey,
)

KINDS = ("cohorts", "groups", "prompts", "campaigns", "pulses", "peer_rounds")
AUDIT_ACTION = "programme.apply"

RowT = TypeVar("RowT", bound=Base)


@dataclass
class Tally:
    """How many rows of one kind the apply created, updated, left alone or deactivated."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0

    def count(self, *, created: bool, changed: bool) -> None:
        """Count one row the file names."""
        if created:
            self.created += 1
        elif changed:
            self.updated += 1
        else:
            self.unchanged += 1


@dataclass
class ApplyReport:
    """Per-kind tallies of one apply."""

    tallies: dict[str, Tally] = field(default_factory=lambda: {kind: Tally() for kind in KINDS})

    @property
    def changed(self) -> bool:
        """Tell whether the apply changed anything."""
        return any(t.created or t.updated or t.deactivated for t in self.tallies.values())

    def as_dict(self) -> dict[str, dict[str, int]]:
        """Return the tallies as plain data (for the audit log and JSON output)."""
        return {
            kind: {
                "created": t.created,
                "updated": t.updated,
                "unchanged": t.unchanged,
                "deactivated": t.deactivated,
            }
            for kind, t in self.tallies.items()
        }


# --- validation --------------------------------------------------------------------------------


def bank_names(bank: PromptBank) -> KnownNames:
    """Return the names the bank defines, with cohorts and groups left unchecked."""
    return KnownNames(
        reflections=frozenset(bank.reflections), pulse_items=frozenset(bank.pulse_items)
    )


async def known_names(session: AsyncSession, bank: PromptBank) -> KnownNames:
    """Return the bank's names plus the cohorts and groups that exist in the database."""
    cohorts = frozenset((await session.scalars(select(Cohort.name))).all())
    groups = frozenset((await session.scalars(select(PeerGroup.name))).all())
    base = bank_names(bank)
    return KnownNames(base.reflections, base.pulse_items, cohorts, groups)


async def names_if_migrated(url: str, bank: PromptBank) -> KnownNames | None:
    """Return `known_names` from the database at `url`, or None if it is absent or not migrated.

    An SQLite file that does not exist is not created just to find that it is empty.
    """
    if _sqlite_file_missing(url):
        return None
    engine = make_engine(url)
    try:
        if await current_revision(engine) != head_revision():
            return None
        async with AsyncSession(engine) as session:
            return await known_names(session, bank)
    except (OSError, SQLAlchemyError):
        return None
    finally:
        await engine.dispose()


def _sqlite_file_missing(url: str) -> bool:
    if not is_sqlite(url):
        return False
    database = make_url(url).database
    return bool(database) and database != ":memory:" and not Path(str(database)).exists()


def validate_text(text: str, filename: str, known: KnownNames) -> ProgrammeSpec:
    """Return the spec of a programme file; raise InvalidInput with every problem."""
    return parse_programme(text, filename=filename, known=known)


# --- apply -------------------------------------------------------------------------------------


async def apply_programme_file(
    sessions: async_sessionmaker[AsyncSession], text: str, filename: str, bank: PromptBank
) -> ApplyReport:
    """Validate `text` against the database and apply it, all in one transaction."""
    async with sessions() as session, session.begin():
        spec = parse_programme(text, filename=filename, known=await known_names(session, bank))
        digest = hashlib.sha256(text.encode()).hexdigest()
        return await apply_programme(session, spec, bank, source=filename, digest=digest)


async def apply_programme(
    session: AsyncSession, spec: ProgrammeSpec, bank: PromptBank, *, source: str, digest: str
) -> ApplyReport:
    """Upsert everything `spec` defines inside the caller's transaction; return the tallies."""
    report = ApplyReport()
    cohort_ids = await _apply_cohorts(session, spec, report.tallies["cohorts"])
    group_ids = await _apply_groups(session, spec, cohort_ids, report.tallies["groups"])
    audiences = _AudienceIds(cohort_ids, group_ids)
    prompt_ids = await _apply_prompts(session, spec, bank, report.tallies["prompts"])
    await _apply_campaigns(session, spec, audiences, prompt_ids, report.tallies["campaigns"])
    await _apply_pulses(session, spec, audiences, bank, report.tallies["pulses"])
    await _apply_peer_rounds(session, spec, audiences, report.tallies["peer_rounds"])
    if report.changed:
        session.add(
            AuditEntry(
                action=AUDIT_ACTION,
                subject=source[-200:],
                detail={"sha256": digest, "counts": report.as_dict()},
            )
        )
    await session.flush()
    return report


def _assign(row: object, values: Mapping[str, Any]) -> bool:
    """Set the attributes that differ; return whether any did."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


async def _by(session: AsyncSession, model: type[RowT], column: str) -> dict[str, RowT]:
    rows = (await session.scalars(select(model))).all()
    return {getattr(row, column): row for row in rows}


async def _apply_cohorts(
    session: AsyncSession, spec: ProgrammeSpec, tally: Tally
) -> dict[str, int]:
    existing = await _by(session, Cohort, "name")
    for cohort in spec.cohorts:
        values = {} if cohort.title is None else {"title": cohort.title}
        row = existing.get(cohort.name)
        if row is None:
            row = Cohort(name=cohort.name, title=cohort.title or "")
            session.add(row)
            existing[cohort.name] = row
            tally.count(created=True, changed=True)
        else:
            tally.count(created=False, changed=_assign(row, values))
    await session.flush()
    return {name: row.id for name, row in existing.items()}


async def _apply_groups(
    session: AsyncSession, spec: ProgrammeSpec, cohort_ids: Mapping[str, int], tally: Tally
) -> dict[str, int]:
    existing = await _by(session, PeerGroup, "name")
    for group in spec.groups:
        values: dict[str, Any] = {"cohort_id": cohort_ids[group.cohort]}
        if group.title is not None:
            values["title"] = group.title
        row = existing.get(group.name)
        if row is None:
            row = PeerGroup(name=group.name, cohort_id=values["cohort_id"], title=group.title or "")
            session.add(row)
            existing[group.name] = row
            tally.count(created=True, changed=True)
        else:
            tally.count(created=False, changed=_assign(row, values))
    await session.flush()
    return {name: row.id for name, row in existing.items()}


async def _apply_prompts(
    session: AsyncSession, spec: ProgrammeSpec, bank: PromptBank, tally: Tally
) -> dict[str, int]:
    existing = await _by(session, Prompt, "key")
    for key in spec.prompt_keys():
        values = _prompt_values(spec, bank, key)
        row = existing.get(key)
        if row is None:
            row = Prompt(key=key, **values)
            session.add(row)
            existing[key] = row
            tally.count(created=True, changed=True)
        else:
            tally.count(created=False, changed=_assign(row, values))
    await session.flush()
    return {key: row.id for key, row in existing.items()}


def _prompt_values(spec: ProgrammeSpec, bank: PromptBank, key: str) -> dict[str, Any]:
    inline = spec.inline_prompts.get(key)
    if inline is not None:
        theme, text, follow_up = inline.theme, inline.text, inline.follow_up
    else:
        prompt = bank.reflections[key]
        theme, text, follow_up = prompt.theme, prompt.text, prompt.follow_up
    return {
        "theme": theme,
        "text": dict(text),
        "follow_up": None if follow_up is None else dict(follow_up),
    }


def _schedule_values(schedule: ScheduleSpec) -> dict[str, Any]:
    return {
        "weekdays": ",".join(schedule.weekdays),
        "local_time": schedule.local_time,
        "start_date": schedule.start,
        "end_date": schedule.end,
        "every_weeks": schedule.every_weeks,
        "skip_holidays": schedule.skip_holidays,
    }


@dataclass(frozen=True)
class _AudienceIds:
    cohorts: Mapping[str, int]
    groups: Mapping[str, int]

    def pairs(self, audience: AudienceSpec) -> set[tuple[int | None, int | None]]:
        return {(self.cohorts[name], None) for name in audience.cohorts} | {
            (None, self.groups[name]) for name in audience.groups
        }


async def _sync_audience(
    session: AsyncSession, kind: str, owner_id: int, wanted: set[tuple[int | None, int | None]]
) -> bool:
    """Make the owner's audience rows exactly `wanted`; return whether any changed."""
    rows = (
        await session.scalars(
            select(Audience).where(Audience.owner_kind == kind, Audience.owner_id == owner_id)
        )
    ).all()
    have = {(row.cohort_id, row.group_id): row for row in rows}
    unwanted = [row for pair, row in have.items() if pair not in wanted]
    for row in unwanted:
        await session.delete(row)
    missing = wanted - have.keys()
    for cohort_id, group_id in sorted(missing, key=lambda p: (p[0] or 0, p[1] or 0)):
        session.add(
            Audience(owner_kind=kind, owner_id=owner_id, cohort_id=cohort_id, group_id=group_id)
        )
    await session.flush()
    return bool(missing or unwanted)


async def _upsert_keyed(
    session: AsyncSession,
    existing: dict[str, RowT],
    model: type[RowT],
    key: str,
    values: Mapping[str, Any],
) -> tuple[RowT, bool, bool]:
    """Return (row, created, changed) after creating or updating the row with `key`."""
    row = existing.get(key)
    if row is None:
        row = model(key=key, **values)
        session.add(row)
        await session.flush()
        existing[key] = row
        return row, True, True
    return row, False, _assign(row, values)


def _deactivate_missing(existing: Mapping[str, Any], keep: Sequence[str], tally: Tally) -> None:
    """Set rows the file no longer names inactive; nothing is deleted."""
    for key, row in existing.items():
        if key not in keep and row.active:
            row.active = False
            tally.deactivated += 1


async def _apply_campaigns(
    session: AsyncSession,
    spec: ProgrammeSpec,
    audiences: _AudienceIds,
    prompt_ids: Mapping[str, int],
    tally: Tally,
) -> None:
    existing = await _by(session, Campaign, "key")
    for campaign in spec.campaigns:
        row, created, changed = await _upsert_keyed(
            session, existing, Campaign, campaign.key, _campaign_values(campaign)
        )
        changed |= await _sync_audience(
            session, "campaign", row.id, audiences.pairs(campaign.audience)
        )
        changed |= await _sync_campaign_prompts(
            session, row.id, [prompt_ids[key] for key in campaign.prompts]
        )
        tally.count(created=created, changed=changed)
    _deactivate_missing(existing, [c.key for c in spec.campaigns], tally)
    await session.flush()


def _campaign_values(campaign: CampaignSpec) -> dict[str, Any]:
    return {
        "title": campaign.title,
        "reminder_after_minutes": campaign.reminder_after_minutes,
        "max_lateness_minutes": campaign.max_lateness_minutes,
        "default_visibility": campaign.default_visibility,
        "active": True,
        **_schedule_values(campaign.schedule),
    }


async def _sync_campaign_prompts(
    session: AsyncSession, campaign_id: int, prompt_ids: list[int]
) -> bool:
    """Rewrite the campaign's prompt positions when the list differs; return whether it did.

    Rows are replaced rather than renumbered in place, so the (campaign, position)
    uniqueness never trips halfway. Nothing refers to these rows, so no answer is touched.
    """
    rows = (
        await session.scalars(
            select(CampaignPrompt)
            .where(CampaignPrompt.campaign_id == campaign_id)
            .order_by(CampaignPrompt.position)
        )
    ).all()
    if [row.prompt_id for row in rows] == prompt_ids and [row.position for row in rows] == list(
        range(len(rows))
    ):
        return False
    for row in rows:
        await session.delete(row)
    await session.flush()
    session.add_all(
        CampaignPrompt(campaign_id=campaign_id, position=position, prompt_id=prompt_id)
        for position, prompt_id in enumerate(prompt_ids)
    )
    await session.flush()
    return True


async def _apply_pulses(
    session: AsyncSession,
    spec: ProgrammeSpec,
    audiences: _AudienceIds,
    bank: PromptBank,
    tally: Tally,
) -> None:
    existing = await _by(session, PulseSurvey, "key")
    for pulse in spec.pulses:
        row, created, changed = await _upsert_keyed(
            session, existing, PulseSurvey, pulse.key, _pulse_values(pulse)
        )
        changed |= await _sync_audience(
            session, "pulse_survey", row.id, audiences.pairs(pulse.audience)
        )
        changed |= await _sync_items(session, row.id, pulse.items, bank)
        tally.count(created=created, changed=changed)
    _deactivate_missing(existing, [p.key for p in spec.pulses], tally)
    await session.flush()


def _pulse_values(pulse: PulseSpec) -> dict[str, Any]:
    return {
        "title": dict(pulse.title),
        "anonymous": pulse.anonymous,
        "min_responses": pulse.min_responses,
        "open_hours": pulse.open_hours,
        "reminder_after_minutes": pulse.reminder_after_minutes,
        "active": True,
        **_schedule_values(pulse.schedule),
    }


async def _sync_items(
    session: AsyncSession, survey_id: int, items: Sequence[PulseItemRef], bank: PromptBank
) -> bool:
    """Upsert a survey's items by key in file order; retire the ones the file dropped."""
    rows = (await session.scalars(select(PulseItem).where(PulseItem.survey_id == survey_id))).all()
    existing = {row.key: row for row in rows}
    changed = False
    for position, item in enumerate(items):
        values = {"position": position, "active": True, **_item_values(item, bank)}
        row = existing.get(item.key)
        if row is None:
            session.add(PulseItem(survey_id=survey_id, key=item.key, **values))
            changed = True
        else:
            changed |= _assign(row, values)
    kept = {item.key for item in items}
    for key, row in existing.items():
        if key not in kept and row.active:
            row.active = False
            changed = True
    await session.flush()
    return changed


def _item_values(item: PulseItemRef, bank: PromptBank) -> dict[str, Any]:
    if item.inline is not None:
        kind, text = item.inline.kind, item.inline.text
        options = [{"key": o.key, "text": dict(o.text)} for o in item.inline.options]
    else:
        banked = bank.pulse_items[item.key]
        kind, text = banked.kind, banked.text
        options = [{"key": o.key, "text": dict(o.text)} for o in banked.options]
    return {"kind": kind, "text": dict(text), "options": options}


async def _apply_peer_rounds(
    session: AsyncSession, spec: ProgrammeSpec, audiences: _AudienceIds, tally: Tally
) -> None:
    existing = await _by(session, PeerSeries, "key")
    for series in spec.peer_rounds:
        row, created, changed = await _upsert_keyed(
            session, existing, PeerSeries, series.key, _peer_values(series)
        )
        changed |= await _sync_audience(
            session, "peer_series", row.id, audiences.pairs(series.audience)
        )
        tally.count(created=created, changed=changed)
    _deactivate_missing(existing, [s.key for s in spec.peer_rounds], tally)
    await session.flush()


def _peer_values(series: PeerRoundSpec) -> dict[str, Any]:
    return {
        "group_size": series.group_size,
        "mix_units": series.mix_units,
        "same_language": series.same_language,
        "avoid_manager": series.avoid_manager,
        "follow_up_days": series.follow_up_days,
        "active": True,
        **_schedule_values(series.schedule),
    }
