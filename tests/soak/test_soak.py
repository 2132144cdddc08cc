"""Three minutes of the real `tenkepause run` process, crashed once, on both backends.

bench/soak.py does the work: 2,000 leaders on fake Slack and Telegram, campaigns and pulses
firing every few minutes, a tenth of the leaders answering, and a SIGKILL mid fan-out with
a restart under a new instance name. Both backends soak at once, to keep CI short. The
test holds the promises (alive, nothing lost, duplicates within the in-flight bound, pulse
cards open); the recovery time and RSS are figures the bench prints and judges.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests import databases

ROOT = Path(__file__).resolve().parent.parent.parent
SOAK = ROOT / "bench" / "soak.py"
IN_FLIGHT = 16

pytestmark = pytest.mark.slow


def start(backend: str, folder: Path) -> subprocess.Popen[str]:
    """Start one three-minute soak with a crash after a minute."""
    command = [
        sys.executable,
        str(SOAK),
        "--backend",
        backend,
        "--minutes",
        "3",
        "--crash-after",
        "60",
        "--check-seconds",
        "30",
        "--json",
        str(folder / f"{backend}.json"),
        "--keep-logs",
        str(folder / "logs"),
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_three_minutes_with_a_crash_lose_nothing_on_either_backend(tmp_path: Path) -> None:
    backends = ["sqlite"] + (["postgres"] if databases.postgres_admin_url() else [])
    runs = {backend: start(backend, tmp_path) for backend in backends}
    outputs = {backend: run.communicate(timeout=900)[0] for backend, run in runs.items()}
    for backend, output in outputs.items():
        print(output)
        figures = json.loads((tmp_path / f"{backend}.json").read_text())
        crash = figures["crash"]
        assert figures["died"] is None, figures["died"]
        assert figures["sent"] > 2000, output
        assert (figures["lost"], figures["failed"]) == (0, 0), output
        assert figures["duplicates"] <= IN_FLIGHT, output
        assert figures["pulse_cards"] > 0, output
        assert figures["closed_pulse_cards"] == 0, output
        assert figures["answer_errors"] == {}, output
        assert figures["bot_errors"] == {}, output  # ERROR lines in the bot's own log
        assert crash is not None and crash.get("left_after_180s") == 0, crash
