"""End to end: `tenkepause run` as a real process, pointed at a fake Bot Framework on loopback
(HTTPS, its own CA) only through the TEAMS_* settings: OpenID metadata and keys for inbound
tokens, the token authority and scope for the bot's own token, and the Bot Connector.

Install (conversationUpdate) -> a coach's prompt goes out proactively -> the leader's card
answer (Action.Submit) is stored; an activity whose serviceUrl differs from its token's claim
is refused by the running process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import ssl
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trustme
from sqlalchemy import select

from storage.engine import make_engine, make_sessionmaker
from storage.models import Answer, Identity, Person
from tests.fakes.recording_server import RecordingServer
from tests.fakes.teams_connector import KEYS_PATH, METADATA_PATH, Call, FakeConnector
from tests.teams.world import TENANT, TeamsActivities, card_of, submit_action, teams_user

TENKEPAUSE = Path(sys.executable).with_name("tenkepause")
APP_ID = "0c4e2a7d-0000-4000-8000-00000000e2e0"
APP_PASSWORD = "e2e-client-secret"
SCOPE = "https://api.botframework.us/.default"  # not the default, so the setting is seen
SECRET_KEY = "teams-end-to-end-secret-key-of-48-characters-xx"
STARTUP = 40.0
pytestmark = pytest.mark.slow

COACH = teams_user("Marit Coach")
LEADER = teams_user("Kari Leader")
HEADER = (
    "email;name;role;unit;manager_email;cohort;group;locale;timezone;slack_id;telegram_username"
)
ROSTER = f"""{HEADER}
{COACH.email};{COACH.name};coach;HR;;kull-e2e;;en;Europe/Oslo;;
{LEADER.email};{LEADER.name};participant;Skole;;kull-e2e;gruppe-e2e;en;Europe/Oslo;;
"""


def free_port() -> int:
    """Return a loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def eventually(check: Callable[[], object], what: str, seconds: float = 30.0) -> None:
    """Poll the process's visible effect until it shows up (no fixed sleeps)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def cli(env: dict[str, str], cwd: Path, *args: str) -> None:
    """Run one `tenkepause` command and fail with its output if it fails."""
    process = await asyncio.create_subprocess_exec(
        str(TENKEPAUSE), *args, env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=-2
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, f"tenkepause {' '.join(args)}: {output.decode()[-2000:]}"


@dataclass
class Running:
    """The served bot, the fake Bot Framework behind it, and the bot's database."""

    base: str
    db_url: str
    fake: FakeConnector


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    """Start the fake on HTTPS, prepare a SQLite database by CLI, then `tenkepause run`."""
    ca = trustme.CA()
    ca_file = tmp_path / "fake-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'tenkepause.db'}"
    port = free_port()
    async with FakeConnector(tls=server_context, app_id=APP_ID, app_password=APP_PASSWORD) as fake:
        for user in (COACH, LEADER):
            fake.member(user.id, email=user.email, name=user.name, aad=user.aad)
        env = {name: value for name, value in os.environ.items() if not _foreign(name)}
        env.update(
            {
                "TENKEPAUSE_DATABASE_URL": db_url,
                "TENKEPAUSE_HTTP_HOST": "127.0.0.1",
                "TENKEPAUSE_HTTP_PORT": str(port),
                "TENKEPAUSE_SECRET_KEY": SECRET_KEY,
                "TENKEPAUSE_LOG_LEVEL": "WARNING",
                "TENKEPAUSE_DISPATCH_SECONDS": "0.2",
                "TENKEPAUSE_QUIET_HOURS": "",
                "TEAMS_APP_ID": APP_ID,
                "TEAMS_APP_PASSWORD": APP_PASSWORD,
                "TEAMS_TENANT_ID": TENANT,
                "TEAMS_OPENID_METADATA_URL": fake.metadata_url,
                "TEAMS_TOKEN_AUTHORITY": fake.base,
                "TEAMS_TOKEN_SCOPE": SCOPE,
                "TEAMS_SERVICE_URL": fake.service_url,
                # The process trusts the fake's CA: aiohttp and urllib read SSL_CERT_FILE,
                # MSAL's requests reads REQUESTS_CA_BUNDLE.
                "SSL_CERT_FILE": str(ca_file),
                "REQUESTS_CA_BUNDLE": str(ca_file),
            }
        )
        roster = tmp_path / "roster.csv"
        roster.write_text(ROSTER, encoding="utf-8")
        await cli(env, tmp_path, "db", "upgrade")
        await cli(env, tmp_path, "roster", "import", str(roster), "--create-cohorts")
        log = tmp_path / "run.log"
        with log.open("wb") as sink:
            process = await asyncio.create_subprocess_exec(
                str(TENKEPAUSE), "run", env=env, cwd=tmp_path, stdout=sink, stderr=sink
            )
            base = f"http://127.0.0.1:{port}"
            try:
                await wait_until_serving(base, process, log)
                yield Running(base, db_url, fake)
            finally:
                if process.returncode is None:
                    process.send_signal(signal.SIGINT)
                    try:
                        await asyncio.wait_for(process.wait(), 15)
                    except TimeoutError:
                        process.kill()
                        await process.wait()


def _foreign(name: str) -> bool:
    """Tell whether an inherited variable would configure something this test does not set."""
    return name.startswith(("TENKEPAUSE_", "TEAMS_", "SLACK_", "TELEGRAM_")) or name in (
        "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE",
    )


async def wait_until_serving(url: str, process: asyncio.subprocess.Process, log: Path) -> None:
    """Poll /healthz until the server answers; fail if the process dies or takes too long."""
    deadline = asyncio.get_running_loop().time() + STARTUP
    async with httpx.AsyncClient() as client:
        while asyncio.get_running_loop().time() < deadline:
            if process.returncode is not None:
                tail = log.read_text(errors="replace")[-2000:]
                raise AssertionError(f"tenkepause run exited with {process.returncode}:\n{tail}")
            try:
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)  # readiness polling, not waiting for a schedule
    raise AssertionError("tenkepause run did not start serving in time")


async def test_install_prompt_and_card_answer_through_the_configured_endpoints(
    running: Running,
) -> None:
    fake = running.fake
    teams = TeamsActivities(fake)
    engine = make_engine(running.db_url)
    sessions = make_sessionmaker(engine)
    linked: set[str] = set()

    async def count_linked() -> None:
        async with sessions() as session:
            rows = await session.scalars(select(Identity.external_id))
            linked.update(rows)

    try:
        async with httpx.AsyncClient(base_url=running.base) as http:

            async def post(activity: dict[str, object]) -> int:
                token = fake.token(APP_ID)  # signed by the fake's key, serviceurl = the fake
                headers = {"Authorization": f"Bearer {token}"}
                response = await http.post("/teams/messages", json=activity, headers=headers)
                return response.status_code

            # 1. Both install the app; the bot looks each up at the connector and links them.
            for user in (COACH, LEADER):
                assert await post(teams.installed(user)) == 202
            for _ in range(600):
                await count_linked()
                if {COACH.aad, LEADER.aad} <= linked:
                    break
                await asyncio.sleep(0.05)
            assert {COACH.aad, LEADER.aad} <= linked, "install did not link both people"

            # 2. The coach posts a prompt to the group; it reaches the leader proactively.
            text = "What did you try this week?"
            assert await post(teams.message(COACH, f"/prompt gruppe-e2e {text}")) == 202
            await eventually(lambda: _card_to(fake, LEADER.chat, text), "the prompt card")
            card_call = _card_to(fake, LEADER.chat, text)
            assert card_call is not None
            card = card_of(card_call.body)
            sent_id = str(card_call.answer["id"])

            # 3. The leader answers in the card (Action.Submit). A group prompt's answer is
            # for the peer group: the card offers no other visibility.
            assert not [e for e in card["body"] if e["type"] == "Input.ChoiceSet"]
            answer = "I asked the team first, then decided."
            activity = teams.submit(LEADER, submit_action(card)["data"], sent_id, answer=answer)
            assert await post(activity) == 202

            # 4. The same valid token on an activity naming another host: refused, unheard.
            async with RecordingServer() as elsewhere:
                moved = teams.message(LEADER, "hello")
                moved["serviceUrl"] = elsewhere.url
                assert await post(moved) == 401
                assert elsewhere.requests == []

            stored: list[Answer] = []

            async def answer_stored() -> None:
                async with sessions() as session:
                    stored[:] = list(await session.scalars(select(Answer)))

            for _ in range(600):
                await answer_stored()
                if stored:
                    break
                await asyncio.sleep(0.05)
        assert len(stored) == 1, "the card answer was not stored"
        async with sessions() as session:
            leader = await session.scalar(select(Person).where(Person.email == LEADER.email))
        assert leader is not None
        assert (stored[0].person_id, stored[0].text, stored[0].visibility) == (
            leader.id,
            answer,
            "group",
        )
    finally:
        await engine.dispose()

    # Keys came from the configured metadata; the bot's token from the configured authority,
    # for the configured scope; and every connector call carried that token.
    assert METADATA_PATH in fake.fetched and KEYS_PATH in fake.fetched
    assert f"/{TENANT}/oauth2/v2.0/token" in fake.fetched
    assert fake.token_requests and {r["scope"] for r in fake.token_requests} == {SCOPE}
    assert {r["client_id"] for r in fake.token_requests} == {APP_ID}
    assert fake.calls and {c.authorization for c in fake.calls} <= {
        f"Bearer {token}" for token in fake.issued
    }


def _card_to(fake: FakeConnector, conversation: str, text: str) -> Call | None:
    """Return the connector call that posted a card containing `text` to a conversation."""
    for call in fake.sent(conversation):
        attachments = (call.body or {}).get("attachments") or []
        if attachments and call.status == 201 and text in str(attachments):
            return call
    return None
