"""With the PostgreSQL URL set, an unreachable server fails the run instead of skipping."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def closed_port() -> int:
    """Return a loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_postgres_fails_the_postgres_tests() -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/test"
    env = {**os.environ, "TENKEPAUSE_TEST_POSTGRES_URL": url}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/storage/test_migrations.py",
            "-k",
            "postgres",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode != 0
    assert "ERROR tests/storage/test_migrations.py::test_migrations_match_models[postgres]" in (
        run.stdout
    )
    assert "skipped" not in run.stdout.splitlines()[-1]
