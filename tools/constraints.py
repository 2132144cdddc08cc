"""Refresh constraints.txt, the tested set of dependencies that `make install` installs.

    python tools/constraints.py upgrade   # upgrade everything (held pins stay), then freeze
    python tools/constraints.py freeze    # write what the venv holds now, held pins kept

Pins in the "held" section are written by hand, each under a comment saying why; a refresh
keeps them, with their comments, and freezes everything else from the venv.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "constraints.txt"
PROJECT = "tenkepause"
HEADER = """\
# The tested set of dependencies: `make install` installs with `-c constraints.txt`, and
# `make upgrade-deps` refreshes this file (tools/constraints.py). Do not edit below the
# "Frozen" line by hand.
"""
HELD = "# Held back on purpose (kept by every refresh; each pin under its reason):"
FROZEN = "# Frozen from the tested environment:"
_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def held_section(text: str) -> list[str]:
    """Return the lines of the held section (comments and pins), as written."""
    lines = text.splitlines()
    if HELD not in lines:
        return []
    start = lines.index(HELD) + 1
    end = lines.index(FROZEN) if FROZEN in lines else len(lines)
    return [line for line in lines[start:end] if line.strip()]


def held_names(held: list[str]) -> set[str]:
    """Return the canonical names of the held pins."""
    names = set()
    for line in held:
        match = _NAME.match(line)
        if match and not line.startswith("#"):
            names.add(_canonical(match.group(1)))
    return names


def frozen(python: str) -> list[str]:
    """Return `pip freeze` of the venv without the project itself."""
    output = subprocess.run(
        [python, "-m", "pip", "freeze", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pins = []
    for line in output.splitlines():
        match = _NAME.match(line)
        if match and _canonical(match.group(1)) != PROJECT and "==" in line:
            pins.append(line.strip())
    return sorted(pins, key=str.lower)


def write(held: list[str], pins: list[str]) -> None:
    """Write constraints.txt: the held pins first, then the frozen ones."""
    skip = held_names(held)
    rest = [pin for pin in pins if _canonical(_NAME.match(pin).group(1)) not in skip]  # type: ignore[union-attr]
    CONSTRAINTS.write_text(
        HEADER
        + "\n"
        + HELD
        + "\n"
        + "\n".join(held)
        + "\n\n"
        + FROZEN
        + "\n"
        + "\n".join(rest)
        + "\n"
    )


def upgrade(python: str, held: list[str]) -> None:
    """Upgrade the project's dependencies as far as the held pins allow."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as file:
        file.write("\n".join(held) + "\n")
    subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--upgrade",
            "--upgrade-strategy",
            "eager",
            "-c",
            file.name,
            "-e",
            f"{ROOT}[dev]",
        ],
        check=True,
    )
    Path(file.name).unlink()


def main(argv: list[str]) -> int:
    """Run `upgrade` or `freeze`."""
    if len(argv) != 1 or argv[0] not in ("upgrade", "freeze"):
        print(__doc__, file=sys.stderr)
        return 2
    held = held_section(CONSTRAINTS.read_text()) if CONSTRAINTS.exists() else []
    if argv[0] == "upgrade":
        upgrade(sys.executable, held)
    write(held, frozen(sys.executable))
    print(f"wrote {CONSTRAINTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
