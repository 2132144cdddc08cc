"""Regenerate the initial migration from the models (only until the first release).

Until a release ships, the schema has one migration, 0001, and changing a model means
regenerating it: `python tools/regenerate_migration.py`. It takes a file lock, so two
people regenerating at once do not interleave. After the first release, add a new
revision with `alembic revision --autogenerate` instead and never edit 0001 again.
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command

from storage.migrate import MIGRATIONS, alembic_config

INITIAL = MIGRATIONS / "versions" / "0001_initial_schema.py"
LOCK = MIGRATIONS / ".regenerate.lock"


def main() -> int:
    """Rewrite 0001 from the current models, then format it."""
    with LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        INITIAL.unlink(missing_ok=True)
        with tempfile.TemporaryDirectory() as folder:
            config = alembic_config(f"sqlite+aiosqlite:///{Path(folder) / 'blank.db'}")
            command.revision(config, message="initial schema", autogenerate=True, rev_id="0001")
        subprocess.run([sys.executable, "-m", "ruff", "format", str(INITIAL)], check=True)
        subprocess.run(
            [sys.executable, "-m", "ruff", "check", "--fix", "--quiet", str(INITIAL)], check=False
        )
    print(f"regenerated {INITIAL}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
