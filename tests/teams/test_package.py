"""`tenkepause teams package`: the manifest with the bot id from settings, zipped with icons."""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.channels.teams.plugin import COMMANDS
from bot.cli import app
from bot.clock import FrozenClock
from bot.core.conversation import Policy
from bot.handlers.registry import build_router
from bot.settings import get_settings
from tests.teams.world import NOW

BOT_ID = "0b5e6c4a-1d2f-4e3a-9b8c-7d6e5f4a3b2c"


@pytest.fixture(autouse=True)
def fresh_settings() -> None:
    get_settings.cache_clear()


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_package_holds_the_manifest_with_the_bot_id_and_both_icons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEAMS_APP_ID", BOT_ID)
    monkeypatch.setenv("TENKEPAUSE_PUBLIC_URL", "https://tenkepause.trondheim.example")
    output = tmp_path / "app.zip"

    result = CliRunner().invoke(app, ["teams", "package", "--output", str(output)])

    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(output) as package:
        assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(package.read("manifest.json"))
        assert png_size(package.read("color.png")) == (192, 192)
        assert png_size(package.read("outline.png")) == (32, 32)
    assert manifest["id"] == BOT_ID
    assert [bot["botId"] for bot in manifest["bots"]] == [BOT_ID]
    assert manifest["validDomains"] == ["tenkepause.trondheim.example"]
    assert "{{" not in json.dumps(manifest)


def test_without_an_app_id_the_package_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEAMS_APP_ID", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here

    result = CliRunner().invoke(app, ["teams", "package", "--output", str(tmp_path / "a.zip")])

    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "error: TEAMS_APP_ID is not set; the manifest needs the bot's Microsoft App ID"
    ]
    assert not (tmp_path / "a.zip").exists()


def test_every_personal_command_in_the_manifest_reaches_a_router_command() -> None:
    manifest = json.loads((Path(__file__).parents[2] / "teams" / "manifest.json").read_text())
    [personal] = [c for c in manifest["bots"][0]["commandLists"] if c["scopes"] == ["personal"]]
    titles = {command["title"] for command in personal["commands"]}
    router = build_router(None, FrozenClock(NOW), "x" * 32, Policy())  # type: ignore[arg-type]
    assert titles <= COMMANDS
    assert titles <= set(router.commands)
