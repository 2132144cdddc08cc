"""Test databases: a migrated template per backend, copied or rolled back per test."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from storage.migrate import upgrade

POSTGRES_ENV = "TENKEPAUSE_TEST_POSTGRES_URL"


def postgres_admin_url() -> str | None:
    """Return the PostgreSQL URL CI hands us, or None when it is not set."""
    return os.environ.get(POSTGRES_ENV) or None


def _dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


async def _admin(url: str, *statements: str) -> None:
    connection = await asyncpg.connect(_dsn(url), timeout=10)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def create_postgres_template(admin_url: str) -> str:
    """Create and migrate a uniquely named database; return its async URL."""
    name = f"tk_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    return url


def clone_postgres(template_url: str) -> str:
    """Copy a migrated database (CREATE DATABASE … TEMPLATE) for one isolated test."""
    template = make_url(template_url).database
    name = f"{template}_c{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(template_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    return make_url(template_url).set(database=name).render_as_string(hide_password=False)


def drop_postgres(url: str) -> None:
    """Drop a test database, ending any connection left to it."""
    name = make_url(url).database
    admin = os.environ[POSTGRES_ENV]
    asyncio.run(
        _admin(
            admin,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{name}' AND pid <> pg_backend_pid()",
            f'DROP DATABASE IF EXISTS "{name}"',
        )
    )


def create_sqlite_template(folder: Path) -> Path:
    """Create and migrate an SQLite file."""
    path = folder / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


def clone_sqlite(template: Path, folder: Path) -> str:
    """Copy the migrated SQLite file for one isolated test."""
    path = folder / f"{uuid.uuid4().hex[:8]}.db"
    shutil.copyfile(template, path)
    return f"sqlite+aiosqlite:///{path}"
