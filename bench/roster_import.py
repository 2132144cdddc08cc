"""Benchmark the roster import: 14,000 people into a fresh SQLite database.

Generates a realistic roster (units, a manager tree, cohorts of ~25 with a coach each,
peer groups of ~5), migrates a temporary SQLite database, and imports the file through the
same service the CLI uses. Then imports it again unchanged, and once more with a tenth of the
people changed (renamed, moved to another group, new manager). Judged by: first import < 30 s.

Run: .venv/bin/python bench/roster_import.py [--people 14000] [--seed 7]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.core.roster import COLUMNS, Creating, normalise_email
from bot.services.roster_import import ImportCounts, run_roster_import
from storage.engine import make_engine, make_sessionmaker
from storage.migrate import upgrade

TARGET_SECONDS = 30.0
COHORT_SIZE = 25
GROUP_SIZE = 5
REPORTS_PER_MANAGER = 8
DOMAIN = "trondheim.kommune.example"
FIRST_NAMES = [
    "Åse",
    "Ingrid",
    "Siri",
    "Håkon",
    "Øyvind",
    "Bjørn",
    "Linnea",
    "Kristoffer",
    "Sunniva",
    "Máret",
    "Sindre",
    "Ragnhild",
    "Jørgen",
    "Astrid",
    "Guro",
    "Hilde",
    "Nils",
    "Camilla",
    "Eirik",
    "Ida",
    "Kari",
    "Mats",
    "Tone",
    "Marit",
    "Jon",
    "Solveig",
    "Ørjan",
    "Bård",
    "Tuva",
    "Frøydis",
    "Ståle",
    "Gunnhild",
    "Pål",
    "Dagny",
    "Æsa",
    "Trond",
    "Liv",
    "Mette",
    "Geir",
    "Ånund",
]
LAST_NAMES = [
    "Ødegård",
    "Solberg",
    "Østgård",
    "Brå",
    "Kjærnes",
    "Næss",
    "Grøtte",
    "Sara",
    "Grønli",
    "Ørjasæter",
    "Tørresdal",
    "Bøe",
    "Fløan",
    "Hælstad",
    "Sæterdal",
    "Rønning",
    "Kåsen",
    "Ås",
    "Bjørkli",
    "Vågen",
    "Strøm",
    "Fjæreide",
    "Høiseth",
    "Aune",
    "Lie",
    "Sæther",
    "Moe",
    "Kvål",
    "Hågensen",
    "Aasen",
    "Løvold",
    "Dæhli",
    "Myhre",
    "Våge",
    "Rød",
    "Berg",
    "Haugen",
]
AREAS = {
    "Helse og velferd": ["Hjemmetjenesten", "Helsehus", "NAV", "Legevakt", "Bofellesskap"],
    "Oppvekst og utdanning": ["Skole", "Barnehage", "PPT", "Sámi mánáidgárdi", "Helsestasjon"],
    "Byutvikling": ["Plan", "Kommunalteknikk", "Byggesak", "Eiendom", "Miljøenheten"],
    "Kultur og næring": ["Bibliotek", "Kulturskolen", "Idrett og friluft", "Næring", "Museum"],
    "Organisasjon og HR": ["Lønn", "Lederutvikling", "IT", "Økonomi", "Innkjøp"],
}
ASCII = str.maketrans({"æ": "ae", "ø": "o", "å": "a", "á": "a", "Æ": "Ae", "Ø": "O", "Å": "A"})


def generate_roster(people: int, seed: int) -> bytes:
    """Return a `;`-separated UTF-8 (with BOM) roster CSV of `people` rows."""
    rng = random.Random(seed)
    emails: list[str] = []
    rows: list[list[str]] = []
    areas = list(AREAS)
    for i in range(people):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first}.{last}.{i}".translate(ASCII).lower() + f"@{DOMAIN}"
        emails.append(email)
        # A manager tree: person i reports to person (i - 1) // 8, so the root is a director.
        manager = emails[(i - 1) // REPORTS_PER_MANAGER] if i else ""
        area = areas[(i // 400) % len(areas)]
        unit = f"{area} - {rng.choice(AREAS[area])} {1 + (i // 40) % 9}"
        number = i // COHORT_SIZE
        position = i % COHORT_SIZE
        role, group = "participant", ""
        if i < 3:
            role, cohort = "admin", ""
        elif position == 0:
            role, cohort = "coach", f"kull-{number + 1}"
        else:
            cohort = f"kull-{number + 1}"
            group = f"{cohort}-gruppe-{(position - 1) // GROUP_SIZE + 1}"
        draw = rng.random()
        locale = "nb" if draw < 0.85 else ("nn" if draw < 0.95 else "en")
        timezone = rng.choice(["", "Europe/Oslo"]) if draw < 0.99 else "America/New_York"
        slack_id = f"U{i:09d}" if rng.random() < 0.9 else ""
        telegram = f"leder_{i}" if rng.random() < 0.05 else ""
        name = f"{first} {last}"
        row = [email, name, role, unit, manager, cohort, group, locale, timezone, slack_id]
        rows.append([*row, telegram])
    return _csv(rows)


def _csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")


def change_a_tenth(data: bytes, seed: int) -> bytes:
    """Rename, regroup within the cohort, or re-manage one person in ten."""
    rng = random.Random(seed + 1)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))[1:]
    for row in rng.sample(rows, len(rows) // 10):
        change = rng.randrange(3)
        if change == 0:
            row[1] += " Endret"
        elif change == 1 and row[6]:
            row[6] = row[6].rsplit("-", 1)[0] + f"-{rng.randint(1, 4)}"
        else:
            row[4] = rows[rng.randrange(len(rows) // 20)][0] if row[4] else row[4]
    return _csv(rows)


async def timed_import(url: str, data: bytes, source: str) -> tuple[ImportCounts, float]:
    """Import `data` into `url` with the CLI's service; return the counts and seconds."""
    # A fresh CLI process has cold caches; so does every timed import here.
    normalise_email.cache_clear()
    engine = make_engine(url)
    try:
        started = time.perf_counter()
        counts = await run_roster_import(
            make_sessionmaker(engine),
            data,
            source,
            now=datetime.now(UTC),
            creating=Creating(cohorts=True),
        )
        return counts, time.perf_counter() - started
    finally:
        await engine.dispose()


def report(label: str, counts: ImportCounts, seconds: float) -> None:
    """Print one import's figures."""
    print(
        f"{label:<22} rows {counts.rows:>6}  {seconds:6.2f} s  {counts.rows / seconds:8.0f} rows/s"
        f"  ({counts.summary()})"
    )


def main() -> None:
    """Generate, migrate, import three times, and judge the first import."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=14_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tk-roster-bench-") as folder:
        csv_path = Path(folder) / "roster.csv"
        csv_path.write_bytes(generate_roster(args.people, args.seed))
        url = f"sqlite+aiosqlite:///{folder}/bench.db"
        upgrade(url)
        data = csv_path.read_bytes()
        print(f"roster: {args.people} people, {len(data) / 1e6:.1f} MB, SQLite at {folder}")
        first, seconds = asyncio.run(timed_import(url, data, str(csv_path)))
        report("first import", first, seconds)
        again, again_seconds = asyncio.run(timed_import(url, data, str(csv_path)))
        report("same file again", again, again_seconds)
        changed, changed_seconds = asyncio.run(
            timed_import(url, change_a_tenth(data, args.seed), str(csv_path))
        )
        report("a tenth changed", changed, changed_seconds)
        verdict = "PASS" if seconds < TARGET_SECONDS else "FAIL"
        print(f"target < {TARGET_SECONDS:.0f} s: {verdict} (first import {seconds:.2f} s)")
        idempotent = again.created == 0 and again.updated == 0
        print(f"second import changed nothing: {'PASS' if idempotent else 'FAIL'}")


if __name__ == "__main__":
    main()
