"""Exports of answers, pulse results and deliveries as CSV or JSON, for review and research.

What an export may hold:
- answers: only those shared with coaches or the group; `private` answers never leave.
- pulses: gated aggregates from `bot.services.pulses.round_results`, never response rows.
- research (`research=True`): every person becomes a stable pseudonym (an HMAC of their
  id under the secret key); no email, name, platform id, message reference or outbox key,
  and no free text unless `with_text`.
Every export writes one audit entry.

Files: CSV as RFC 4180 (comma, CRLF) for programs, or as a spreadsheet program expects it in
the reader's language (`excel_csv`: a BOM so Excel reads UTF-8, and in nb/nn the `;` and
decimal comma of Norwegian Excel); an `.xlsx` workbook; or JSON. No cell of a CSV or
workbook can run as a formula.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import itertools
import json
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.anonymity import Withheld
from bot.core.problems import UserError
from bot.core.pulse_results import WHOLE, ItemReport, ItemResult, Shown, SplitBy
from bot.core.vocabulary import Locale
from bot.services.pulses import round_results
from bot.services.review import SHARED, cohort_member_ids, visible_cohorts
from storage.models import (
    Answer,
    AuditEntry,
    Cohort,
    CohortMembership,
    Delivery,
    GroupMembership,
    PeerGroup,
    Person,
    Prompt,
    PulseRound,
    PulseSurvey,
)
from storage.models import Audience as AudienceRow

# Spreadsheet programs run cells that start with these as formulas, even after blanks.
FORMULA_STARTS = ("=", "+", "-", "@")


class ExportKind(StrEnum):
    """What to export."""

    ANSWERS = "answers"
    PULSES = "pulses"
    DELIVERIES = "deliveries"


class ExportFormat(StrEnum):
    """How to write it."""

    CSV = "csv"
    JSON = "json"
    XLSX = "xlsx"


MEDIA_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.JSON: "application/json",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True)
class CsvStyle:
    """How a CSV file is written: its separator, a byte order mark, the decimal sign."""

    delimiter: str = ","
    bom: bool = False
    decimal_comma: bool = False


# RFC 4180, for programs (pandas, R, scripts): what `export --format csv` writes by default.
PLAIN_CSV = CsvStyle()


def excel_csv(locale: str) -> CsvStyle:
    """Return the CSV style Excel opens correctly in `locale`: nb and nn use `;` and `,`."""
    # Without a BOM Excel reads the bytes as the system's code page (æøå garbled); Norwegian
    # Excel splits on its list separator `;` and reads `3.5` as text or a date, not a number.
    norwegian = locale in (Locale.NB, Locale.NN)
    return CsvStyle(delimiter=";" if norwegian else ",", bom=True, decimal_comma=norwegian)


class UnknownCohort(UserError):
    """A cohort that does not exist, or that the person exporting does not coach."""


@dataclass(frozen=True)
class ExportRequest:
    """What to export, for whom."""

    kind: ExportKind
    cohort: str | None = None
    research: bool = False
    with_text: bool = False


@dataclass
class Export:
    """Rows ready to be written, with their column order."""

    kind: ExportKind
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    research: bool = False


def pseudonym(secret: str, person_id: int) -> str:
    """Return a person's stable research pseudonym, e.g. "P-3f9a2c1b"."""
    digest = hmac.new(secret.encode(), f"person:{person_id}".encode(), hashlib.sha256)
    return f"P-{digest.hexdigest()[:8]}"


async def build_export(
    session: AsyncSession,
    request: ExportRequest,
    *,
    secret: str,
    now: datetime,
    actor: Person | None = None,
) -> Export:
    """Collect an export within the actor's cohorts (None: the operator, all) and audit it."""
    scope = await _scope(session, request.cohort, actor)
    builders = {
        ExportKind.ANSWERS: _answers,
        ExportKind.PULSES: _pulses,
        ExportKind.DELIVERIES: _deliveries,
    }
    export = await builders[request.kind](session, request, scope, secret)
    session.add(
        AuditEntry(
            at=now,
            actor_id=actor.id if actor is not None else None,
            action=f"export.{request.kind.value}",
            subject=f"cohort:{request.cohort}" if request.cohort else "all",
            detail={
                "research": request.research,
                "with_text": request.with_text,
                "rows": len(export.rows),
            },
        )
    )
    await session.flush()
    return export


def serialise(export: Export, fmt: ExportFormat, style: CsvStyle = PLAIN_CSV) -> str:
    """Write an export as CSV (one header row) or JSON (an object with `rows`)."""
    if fmt is ExportFormat.JSON:
        body = {"kind": export.kind.value, "research": export.research, "rows": export.rows}
        return json.dumps(body, ensure_ascii=False, indent=2, default=_json_value) + "\n"
    if fmt is not ExportFormat.CSV:
        raise ValueError(f"{fmt.value} is not a text format; use export_bytes")
    buffer = io.StringIO()
    # RFC 4180's CRLF: with a bare "\n" terminator a lone CR in a cell is left unquoted, and
    # spreadsheets start a new row there, with whatever follows as its first cell.
    writer = csv.DictWriter(
        buffer, fieldnames=export.columns, delimiter=style.delimiter, lineterminator="\r\n"
    )
    writer.writeheader()
    for row in export.rows:
        writer.writerow({key: _csv_value(row.get(key), style) for key in export.columns})
    return ("\ufeff" if style.bom else "") + buffer.getvalue()


def export_bytes(export: Export, fmt: ExportFormat, style: CsvStyle = PLAIN_CSV) -> bytes:
    """Return an export as the bytes of a file in `fmt` (CSV and JSON as UTF-8)."""
    if fmt is ExportFormat.XLSX:
        return workbook_bytes(export)
    return serialise(export, fmt, style).encode("utf-8")


def workbook_bytes(export: Export) -> bytes:
    """Write an export as an .xlsx workbook: one sheet, a header row, one row per item."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(export.kind.value)
    sheet.append(export.columns)
    for row in export.rows:
        sheet.append([_xlsx_cell(sheet, row.get(key)) for key in export.columns])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _xlsx_cell(sheet: Any, value: object) -> object:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime | date):
        text = value.isoformat()
    elif isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(value)
    # The file format cannot hold most control characters (openpyxl would refuse the cell),
    # and XML reads a CR as a line feed anyway: line breaks are stored as "\n".
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    cell = WriteOnlyCell(sheet, ILLEGAL_CHARACTERS_RE.sub("\ufffd", text))
    # openpyxl makes any text that starts with "=" a formula; a string cell never runs, so
    # the text is kept as written (no apostrophe needed, unlike CSV).
    cell.data_type = "s"
    return cell


@dataclass(frozen=True)
class _Scope:
    """The cohorts an export covers; `everything` when no cohort limits it."""

    cohorts: list[Cohort]
    everything: bool


async def _scope(session: AsyncSession, name: str | None, actor: Person | None) -> _Scope:
    if actor is None:
        cohorts = list(await session.scalars(select(Cohort).order_by(Cohort.name)))
    else:
        cohorts = await visible_cohorts(session, actor)
    if name is not None:
        chosen = [c for c in cohorts if c.name == name]
        if not chosen:
            raise UnknownCohort(f"--cohort: there is no cohort called {name!r}")
        return _Scope(chosen, everything=False)
    everyone = actor is None or actor.role == "admin"
    return _Scope(cohorts, everything=everyone)


def _members(scope: _Scope) -> Select[Any] | None:
    """Select the people of the scope's cohorts; None when the scope is everything."""
    if scope.everything:
        return None
    inside = [Person.id.in_(cohort_member_ids(c.id)) for c in scope.cohorts]
    return select(Person.id).where(or_(*inside) if inside else Person.id.is_(None))


async def _people(session: AsyncSession, ids: Iterable[int]) -> dict[int, Person]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {p.id: p for p in await session.scalars(select(Person).where(Person.id.in_(wanted)))}


async def _cohort_names(session: AsyncSession, person_ids: Iterable[int]) -> dict[int, str]:
    """Return each person's first cohort (as participant, directly or through a group)."""
    wanted = sorted(set(person_ids))
    found: dict[int, str] = {}
    direct = await session.execute(
        select(CohortMembership.person_id, Cohort.name)
        .join(Cohort, Cohort.id == CohortMembership.cohort_id)
        .where(CohortMembership.person_id.in_(wanted), CohortMembership.role == "participant")
        .order_by(Cohort.id)
    )
    via_group = await session.execute(
        select(GroupMembership.person_id, Cohort.name)
        .join(PeerGroup, PeerGroup.id == GroupMembership.group_id)
        .join(Cohort, Cohort.id == PeerGroup.cohort_id)
        .where(GroupMembership.person_id.in_(wanted))
        .order_by(Cohort.id)
    )
    for person_id, name in [*direct.all(), *via_group.all()]:
        found.setdefault(person_id, name)
    return found


def _who(
    person: Person | None, person_id: int | None, research: bool, secret: str
) -> dict[str, Any]:
    if research:
        return {"person": pseudonym(secret, person_id) if person_id is not None else None}
    return {
        "person_email": person.email if person else None,
        "person_name": person.name if person else None,
    }


def _who_columns(research: bool) -> list[str]:
    return ["person"] if research else ["person_email", "person_name"]


async def _answers(
    session: AsyncSession, request: ExportRequest, scope: _Scope, secret: str
) -> Export:
    query = (
        select(Answer, Prompt.key, PeerGroup.name)
        .outerjoin(Prompt, Prompt.id == Answer.prompt_id)
        .outerjoin(PeerGroup, PeerGroup.id == Answer.group_id)
        .where(Answer.visibility.in_(SHARED))
        .order_by(Answer.id)
    )
    members = _members(scope)
    if members is not None:
        query = query.where(Answer.person_id.in_(members))
    rows = (await session.execute(query)).all()
    people = await _people(session, (a.person_id for a, _k, _g in rows))
    cohorts = await _cohort_names(session, people)
    text = not request.research or request.with_text
    columns = [
        *([] if request.research else ["answer_id"]),
        *_who_columns(request.research),
        "cohort",
        "group",
        "prompt",
        "stage",
        "visibility",
        "platform",
        "created_at",
        "edits",
        *(["text"] if text else []),
    ]
    export = Export(ExportKind.ANSWERS, columns, research=request.research)
    for answer, prompt_key, group in rows:
        row: dict[str, Any] = {
            "answer_id": answer.id,
            **_who(people.get(answer.person_id), answer.person_id, request.research, secret),
            "cohort": cohorts.get(answer.person_id),
            "group": group,
            "prompt": prompt_key,
            "stage": answer.stage,
            "visibility": answer.visibility,
            "platform": answer.platform,
            "created_at": answer.created_at,
            "edits": answer.edits,
            "text": answer.text,
        }
        export.rows.append({key: row[key] for key in columns})
    return export


async def _deliveries(
    session: AsyncSession, request: ExportRequest, scope: _Scope, secret: str
) -> Export:
    query = (
        select(Delivery, PeerGroup.name)
        .outerjoin(PeerGroup, PeerGroup.id == Delivery.group_id)
        .order_by(Delivery.id)
    )
    members = _members(scope)
    if members is not None:
        groups = select(PeerGroup.id).where(PeerGroup.cohort_id.in_([c.id for c in scope.cohorts]))
        query = query.where(
            or_(
                Delivery.person_id.in_(members),
                (Delivery.person_id.is_(None) & Delivery.group_id.in_(groups)),
            )
        )
    rows = (await session.execute(query)).all()
    people = await _people(session, (d.person_id for d, _g in rows if d.person_id is not None))
    private_columns = [] if request.research else ["delivery_id", "key", "message_ref", "error"]
    columns = [
        *private_columns[:2],
        "kind",
        *_who_columns(request.research),
        "group",
        "status",
        "due_at",
        "sent_at",
        "answered_at",
        "attempts",
        "platform",
        *private_columns[2:],
    ]
    export = Export(ExportKind.DELIVERIES, columns, research=request.research)
    for delivery, group in rows:
        row: dict[str, Any] = {
            "delivery_id": delivery.id,
            "key": delivery.key,
            "kind": delivery.kind,
            **_who(
                people.get(delivery.person_id or 0), delivery.person_id, request.research, secret
            ),
            "group": group,
            "status": delivery.status,
            "due_at": delivery.due_at,
            "sent_at": delivery.sent_at,
            "answered_at": delivery.answered_at,
            "attempts": delivery.attempts,
            "platform": delivery.platform,
            "message_ref": delivery.message_ref,
            "error": delivery.error,
        }
        export.rows.append({key: row[key] for key in columns})
    return export


PULSE_COLUMNS = [
    "survey",
    "round",
    "round_date",
    "round_status",
    "item",
    "kind",
    "part",
    "shown",
    "withheld_reason",
    "min_responses",
    "respondents",
    "invited",
    "response_rate",
    "mean",
    "enps",
    "distribution",
]


async def _pulses(
    session: AsyncSession, request: ExportRequest, scope: _Scope, secret: str
) -> Export:
    text = not request.research or request.with_text
    columns = PULSE_COLUMNS + (["texts"] if text else [])
    export = Export(ExportKind.PULSES, columns, research=request.research)
    surveys = select(PulseSurvey).order_by(PulseSurvey.key)
    if not scope.everything:
        cohort_ids = [c.id for c in scope.cohorts]
        groups = select(PeerGroup.id).where(PeerGroup.cohort_id.in_(cohort_ids))
        owners = select(AudienceRow.owner_id).where(
            AudienceRow.owner_kind == "pulse_survey",
            or_(AudienceRow.cohort_id.in_(cohort_ids), AudienceRow.group_id.in_(groups)),
        )
        surveys = surveys.where(PulseSurvey.id.in_(owners))
    parts = None if scope.everything else [c.name for c in scope.cohorts]
    for survey in await session.scalars(surveys):
        rounds = await session.scalars(
            select(PulseRound)
            .where(PulseRound.survey_id == survey.id, PulseRound.status != "scheduled")
            .order_by(PulseRound.number)
        )
        for pulse_round in rounds:
            for part, report in await pulse_parts(session, pulse_round.id, parts):
                base = {
                    "survey": survey.key,
                    "round": pulse_round.number,
                    "round_date": pulse_round.local_date,
                    "round_status": pulse_round.status,
                    "item": report.item.key,
                    "kind": report.item.kind.value,
                    "part": part,
                }
                row = {**base, **_result_columns(report_part(report, part), text)}
                export.rows.append({key: row.get(key) for key in columns})
    return export


async def pulse_parts(
    session: AsyncSession, round_id: int, cohorts: Sequence[str] | None
) -> list[tuple[str, ItemReport]]:
    """Return (part, report) pairs: the whole round, or each named cohort's part of it."""
    if cohorts is None:
        return [(WHOLE, r) for r in await round_results(session, round_id)]
    reports = await round_results(session, round_id, SplitBy.COHORT)
    return [(name, r) for name in cohorts for r in reports if _has_part(r, name)]


def report_part(report: ItemReport, part: str) -> Shown:
    """Return the gated result of one part of a report (WHOLE for the whole round)."""
    if part == WHOLE:
        return report.whole
    return dict(report.parts)[part]


def _has_part(report: ItemReport, name: str) -> bool:
    return any(key == name for key, _shown in report.parts)


def _result_columns(result: Shown, text: bool) -> dict[str, Any]:
    if isinstance(result, Withheld):
        return {
            "shown": False,
            "withheld_reason": result.reason.value,
            "min_responses": result.min_responses,
        }
    assert isinstance(result, ItemResult)
    return {
        "shown": True,
        "respondents": result.respondents,
        "invited": result.invited,
        "response_rate": round(result.response_rate, 4)
        if result.response_rate is not None
        else None,
        "mean": round(result.mean, 3) if result.mean is not None else None,
        "enps": round(result.enps, 1) if result.enps is not None else None,
        "distribution": dict(result.distribution),
        **({"texts": list(result.texts)} if text and result.texts else {}),
    }


def _json_value(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot export a {type(value).__name__}")


def _csv_value(value: object, style: CsvStyle = PLAIN_CSV) -> object:
    if value is None:
        return ""
    if isinstance(value, float) and style.decimal_comma:
        return str(value).replace(".", ",")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and formula_like(value):
        return "'" + value
    return value


def formula_like(value: str) -> bool:
    """Tell whether a spreadsheet might run `value` (a formula sign after any blanks)."""
    # A leading tab or CR is refused on its own: some programs drop it and read what follows.
    if value[:1] and unicodedata.category(value[0]) in ("Cc", "Cf"):
        return True
    rest = "".join(itertools.dropwhile(_blank, value))
    return rest.startswith(FORMULA_STARTS)


def _blank(char: str) -> bool:
    return char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Zs")
