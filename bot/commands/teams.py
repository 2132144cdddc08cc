"""`tenkepause teams …`: the Teams app package, and codes that link a Teams chat to a group."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlparse

import typer

from bot.commands.common import console, fail, run
from bot.commands.group_link import make_group_link_code
from bot.core.problems import UserError
from bot.services.group_links import GROUP_LINK_DAYS
from bot.settings import Settings, get_settings

app = typer.Typer(
    help="Microsoft Teams: the app package and group-chat link codes.", no_args_is_help=True
)

APP_DIR = Path(__file__).resolve().parents[2] / "teams"
ICONS = ("color.png", "outline.png")


def manifest(settings: Settings, source: Path = APP_DIR / "manifest.json") -> dict[str, Any]:
    """Return the manifest with the bot id and public URL from settings filled in."""
    if not settings.teams_app_id:
        raise UserError("TEAMS_APP_ID is not set; the manifest needs the bot's Microsoft App ID")
    public = settings.public_url.rstrip("/")
    text = source.read_text(encoding="utf-8")
    for name, value in {
        "{{TEAMS_APP_ID}}": settings.teams_app_id,
        "{{PUBLIC_URL}}": public,
        "{{PUBLIC_HOST}}": urlparse(public).hostname or "localhost",
    }.items():
        text = text.replace(name, value)
    try:
        data: dict[str, Any] = json.loads(text)
    except json.JSONDecodeError as error:
        raise UserError(f"{source}:{error.lineno}:{error.colno}: {error.msg}") from None
    return data


def build_package(settings: Settings, output: Path, source_dir: Path = APP_DIR) -> Path:
    """Write the app package (manifest.json and its two icons at the zip's root)."""
    data = manifest(settings, source_dir / "manifest.json")
    for icon in ICONS:
        if not (source_dir / icon).is_file():
            raise UserError(f"{source_dir / icon}: icon missing")
    try:
        with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as package:
            package.writestr("manifest.json", json.dumps(data, indent=2, ensure_ascii=False))
            for icon in ICONS:
                package.write(source_dir / icon, icon)
    except OSError as error:
        raise UserError(f"--output {output}: {error.strerror or error}") from None
    return output


@app.command("package")
def package_command(
    output: Annotated[
        Path, typer.Option("--output", help="Where to write the zip to upload to Teams.")
    ] = Path("tenkepause-teams.zip"),
) -> None:
    """Zip teams/manifest.json (bot id from TEAMS_APP_ID) with its icons for upload to Teams."""
    try:
        written = build_package(get_settings(), output)
    except UserError as error:
        fail(str(error))
    console.print(f"Teams app package written to {written}", markup=False, highlight=False)


@app.command("link-code")
def link_code_command(
    group: Annotated[str, typer.Option("--group", help="The peer group, by name.")],
    days: Annotated[int, typer.Option("--days", min=1, help="Days until the code expires.")] = (
        GROUP_LINK_DAYS
    ),
) -> None:
    """Create a one-time code a coach sends as `@Tenkepause link CODE` (see group-link-code)."""
    code = run(make_group_link_code(get_settings(), group, days, "--group"))
    console.print(
        f"In the Teams channel or group chat, a coach writes: @Tenkepause link {code}",
        markup=False,
        soft_wrap=True,
    )
