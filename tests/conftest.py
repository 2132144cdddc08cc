"""Shared fixtures: both database backends, per-test rollback, and no internet."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.engine import make_engine
from tests import databases, network_guard

network_guard.install()

BACKENDS = ["sqlite", "postgres"]


_postgres_passed: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Count PostgreSQL tests that passed."""
    if report.when == "call" and report.passed and "postgres" in report.keywords:
        _postgres_passed.append(report.nodeid)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many tests ran on PostgreSQL, so a silent skip cannot pass for coverage."""
    count = len(_postgres_passed)
    where = "set" if databases.postgres_admin_url() else "NOT set (PostgreSQL tests skipped)"
    terminalreporter.write_line(
        f"PostgreSQL: {count} tests passed on PostgreSQL; {databases.POSTGRES_ENV} {where}"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test parametrised onto PostgreSQL with the `postgres` marker."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("backend") == "postgres":
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate one SQLite file per test session."""
    return databases.create_sqlite_template(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """Migrate one PostgreSQL database per test session; fail (never skip) if unreachable."""
    admin = databases.postgres_admin_url()
    if admin is None:
        pytest.skip(f"{databases.POSTGRES_ENV} is not set")
    url = databases.create_postgres_template(admin)
    yield url
    databases.drop_postgres(url)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    return str(request.param)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Give the test its own migrated database that it may commit to freely."""
    if backend == "sqlite":
        yield databases.clone_sqlite(request.getfixturevalue("sqlite_template"), tmp_path)
        return
    url = databases.clone_postgres(request.getfixturevalue("postgres_template"))
    yield url
    databases.drop_postgres(url)


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the test's own database."""
    engine = make_engine(db_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """The session factory services use, on the test's own database."""
    return async_sessionmaker(engine, expire_on_commit=False)


@pytest.fixture
async def rollback_session(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[AsyncSession]:
    """A session inside a transaction that is rolled back after the test.

    Commits inside the test only release savepoints, so the shared template stays clean.
    """
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{request.getfixturevalue('sqlite_template')}"
    else:
        url = request.getfixturevalue("postgres_template")
    engine = make_engine(url)
    async with engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()
    await engine.dispose()
