"""Weak secrets: an operator's mistake must not hand an outsider the dashboard.

Attackers: an outsider who guesses or knows the signing key (empty, short, or the demo's
published one) and forges a session cookie; and an outsider who posts to the Telegram
webhook when its secret was left blank. What must hold: `tenkepause run` refuses such
keys and names the command that makes a good one; blank variables mean unset; forged
cookies are refused by a server with a proper key.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import enabled_plugins
from bot.channels.telegram.plugin import TelegramPlugin
from bot.channels.telegram.webhook import webhook_route
from bot.channels.webchat.cookies import COOKIE as CHAT_COOKIE
from bot.services.web_sessions import SessionKind
from bot.settings import DEMO_SECRET, MAKE_SECRET, Settings
from bot.web.dashboard.auth import COOKIE as DASHBOARD_COOKIE
from bot.web.server import build_app
from tests import databases
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI
from tests.security import signed_in
from tests.security.served import (
    SECRET_KEY,
    TENKEPAUSE,
    clean_environment,
    tenkepause_run,
)
from tests.web import world as w

ROOT = Path(__file__).resolve().parents[2]
WEAK_KEYS = {
    "empty": "",
    "blank": "   ",
    "one byte": "x",
    "31 bytes": "k" * 31,
    "the demo's": DEMO_SECRET,
}


def run_cli(workdir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `tenkepause` in `workdir` with only the given settings in its environment."""
    return subprocess.run(
        [str(TENKEPAUSE), *args],
        cwd=workdir,
        env=clean_environment(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("key", WEAK_KEYS.values(), ids=WEAK_KEYS.keys())
def test_run_refuses_a_weak_key_and_names_the_command_for_a_good_one(
    tmp_path: Path, key: str
) -> None:
    result = run_cli(tmp_path, "run", TENKEPAUSE_SECRET_KEY=key)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: TENKEPAUSE_SECRET_KEY")
    assert f"`{MAKE_SECRET}`" in lines[0]


def test_the_demo_key_works_only_on_loopback(tmp_path: Path) -> None:
    exposed = run_cli(tmp_path, "demo", TENKEPAUSE_HTTP_HOST="0.0.0.0")  # noqa: S104
    assert exposed.returncode == 1
    assert "loopback" in exposed.stderr and MAKE_SECRET in exposed.stderr
    assert not (tmp_path / "data").exists(), "nothing was set up before refusing"

    for host in ("127.0.0.1", "::1", "localhost"):
        assert Settings(_env_file=None, TENKEPAUSE_DEMO=True, TENKEPAUSE_HTTP_HOST=host).secret()
    for host in ("0.0.0.0", "192.0.2.10", "tenkepause.example"):  # noqa: S104
        settings = Settings(_env_file=None, TENKEPAUSE_DEMO=True, TENKEPAUSE_HTTP_HOST=host)
        with pytest.raises(RuntimeError, match="loopback"):
            settings.secret()
        # Naming the demo key explicitly does not get around it.
        named = settings.model_copy(
            update={
                "secret_key": Settings(_env_file=None, TENKEPAUSE_SECRET_KEY=DEMO_SECRET).secret_key
            }
        )
        assert any("loopback" in problem for problem in named.startup_problems())


def test_secret_generate_makes_distinct_keys_that_run_accepts(tmp_path: Path) -> None:
    keys = [run_cli(tmp_path, "secret", "generate").stdout.strip() for _ in range(2)]
    assert keys[0] != keys[1]
    for key in keys:
        assert len(key.encode()) >= 32
        assert Settings(_env_file=None, TENKEPAUSE_SECRET_KEY=key).startup_problems() == []


def test_blank_platform_variables_leave_every_platform_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    names = [
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "SLACK_CLIENT_ID",
        "SLACK_CLIENT_SECRET",
        "TELEGRAM_BOT_TOKEN",
        "TELEGRAM_WEBHOOK_SECRET",
        "TEAMS_APP_ID",
        "TEAMS_APP_PASSWORD",
        "TEAMS_TENANT_ID",
        "TENKEPAUSE_SECRET_KEY",
        "TENKEPAUSE_INSTANCE",
        "TENKEPAUSE_METRICS_TOKEN",
    ]
    for index, name in enumerate(names):
        monkeypatch.setenv(name, " " * (index % 2))  # empty, or only a space
    from_environment = Settings(_env_file=None)
    (tmp_path / ".env").write_text("".join(f"{name}=\n" for name in names))
    for name in names:
        monkeypatch.delenv(name)
    from_file = Settings(_env_file=tmp_path / ".env")
    for settings in (from_environment, from_file):
        assert not (settings.slack_enabled or settings.telegram_enabled or settings.teams_enabled)
        assert settings.secret_key is None and settings.telegram_webhook_secret is None
        assert settings.instance_name is None and settings.metrics_token is None


def test_a_copy_of_env_example_without_a_key_refuses_to_start(tmp_path: Path) -> None:
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    result = run_cli(tmp_path, "run")
    assert result.returncode == 1
    assert "TENKEPAUSE_SECRET_KEY is required" in result.stderr
    assert MAKE_SECRET in result.stderr


def env_example_values() -> dict[str, str]:
    """Return every variable `.env.example` sets, as written."""
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


@pytest.mark.slow
@pytest.mark.parametrize("where", ["dotenv", "environment"])
async def test_a_copy_of_env_example_starts_with_every_platform_off(
    sqlite_template: Path, tmp_path: Path, where: str
) -> None:
    db_url = databases.clone_sqlite(sqlite_template, tmp_path)
    settings: dict[str, str] = {}
    if where == "dotenv":
        shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    else:  # as a systemd EnvironmentFile or `docker run --env-file` would pass it
        settings = env_example_values()
        assert settings["SLACK_BOT_TOKEN"] == "" and settings["TELEGRAM_BOT_TOKEN"] == ""
        settings.pop("TENKEPAUSE_SECRET_KEY")  # the one value an operator must fill in
    async with tenkepause_run(db_url, tmp_path, settings) as served, httpx.AsyncClient() as http:
        health = (await http.get(f"{served.url}/healthz")).json()
        started = served.output()
    assert health["channels"] == ["webchat"]
    assert "Application startup complete" in started
    assert "WARNING" not in started and "ERROR" not in started, started


async def test_an_empty_webhook_secret_never_accepts_a_call(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    db_url: str,
    telegram_api: FakeTelegramAPI,
) -> None:
    with pytest.raises(ValueError, match="TELEGRAM_WEBHOOK_SECRET"):
        webhook_route(None, "")  # type: ignore[arg-type]
    settings = Settings(
        _env_file=None,
        TENKEPAUSE_DATABASE_URL=db_url,
        TENKEPAUSE_SECRET_KEY=SECRET_KEY,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=telegram_api.base_url,
        TELEGRAM_WEBHOOK_SECRET="",
    )
    assert settings.telegram_webhook_secret is None  # blank: polling, not webhook mode
    runtime = w.make_runtime(engine, sessions, db_url)
    runtime.settings = settings
    plugin = TelegramPlugin(runtime)
    assert plugin.routes() == []
    runtime.plugins = {"telegram": plugin}
    transport = httpx.ASGITransport(app=build_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        update = {"update_id": 1, "message": {"message_id": 1, "date": 0, "text": "hi"}}
        unsigned = await http.post("/telegram/webhook", json=update)
    assert unsigned.status_code == 404
    short = settings.model_copy(
        update={
            "telegram_webhook_secret": Settings(
                _env_file=None, TELEGRAM_WEBHOOK_SECRET="short"
            ).telegram_webhook_secret
        }
    )
    assert any("TELEGRAM_WEBHOOK_SECRET" in problem for problem in short.startup_problems())


@dataclass
class StrongSite:
    """A site keyed properly, and genuine sessions of an admin and a leader on it."""

    world: w.World
    http: httpx.AsyncClient
    admin_token: str
    leader_token: str

    def cookies(self, key: str) -> tuple[str, str]:
        """Return (dashboard, chat) cookies of the genuine sessions, signed with `key`."""
        admin = self.world.admin.id
        return (
            signed_in.dashboard_cookie(key, self.admin_token, admin, w.NOW),
            signed_in.chat_cookie(key, self.leader_token),
        )

    async def visit(self, key: str) -> tuple[httpx.Response, httpx.Response]:
        """Open the dashboard and the chat with cookies signed with `key`."""
        dashboard, chat = self.cookies(key)
        return (
            await self.http.get(
                "/dashboard/", headers={"cookie": f"{DASHBOARD_COOKIE}={dashboard}"}
            ),
            await self.http.get("/chat/api/messages", headers={"cookie": f"{CHAT_COOKIE}={chat}"}),
        )


@pytest.fixture
async def strong_site(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], db_url: str
) -> AsyncIterator[StrongSite]:
    """Serve the dashboard and web chat with a proper key, with two genuine sessions."""
    world = await w.build_world(sessions)
    runtime = w.make_runtime(engine, sessions, db_url)
    runtime.settings = runtime.settings.model_copy(
        update={"secret_key": Settings(_env_file=None, TENKEPAUSE_SECRET_KEY=SECRET_KEY).secret_key}
    )
    runtime.plugins = enabled_plugins(runtime)
    now = runtime.clock.now()
    admin = await signed_in.session_token(sessions, world.admin.id, SessionKind.DASHBOARD, now)
    leader = await signed_in.session_token(sessions, world.leader.id, SessionKind.WEBCHAT, now)
    async with w.client(w.make_app(runtime)) as http:
        yield StrongSite(world, http, admin, leader)


@pytest.mark.parametrize("key", WEAK_KEYS.values(), ids=WEAK_KEYS.keys())
async def test_cookies_forged_with_a_weak_key_are_refused(
    strong_site: StrongSite, key: str
) -> None:
    """Even carrying a genuine session's token, a cookie signed with a weak key gets nowhere."""
    dashboard, chat = await strong_site.visit(key)
    assert (dashboard.status_code, chat.status_code) == (401, 401)
    assert strong_site.world.admin.name not in dashboard.text


async def test_cookies_made_with_the_servers_key_work(strong_site: StrongSite) -> None:
    """The forging above is done right: with the real key the same cookies get in."""
    dashboard, chat = await strong_site.visit(SECRET_KEY)
    assert (dashboard.status_code, chat.status_code) == (200, 200)
