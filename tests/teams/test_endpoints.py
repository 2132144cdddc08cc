"""The cloud's endpoints as settings: OpenID metadata and keys for inbound tokens, the token
authority and scope for the bot's own token, and the serviceUrl allow-list."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from microsoft_agents.hosting.core import AgentAuthConfiguration

from bot.channels.teams.credentials import (
    SDK_DEFAULT_SCOPES,
    BotFrameworkCredentials,
    authority_url,
)
from bot.channels.teams.service_urls import ServiceUrlPolicy, ServiceUrlRefused
from bot.channels.teams.tokens import BotFrameworkTokens, TokenRefused
from bot.settings import Settings
from storage.models import Identity, ProcessedEvent
from tests.fakes.teams_connector import FakeConnector
from tests.teams.conftest import APP_ID, FixedTokenProvider
from tests.teams.world import TENANT, TeamsWorld, WorldFactory, roster_member

PUBLIC = ServiceUrlPolicy.from_setting(Settings(_env_file=None).teams_allowed_service_hosts)  # type: ignore[call-arg]


# -- the serviceUrl rule ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service_url", "claim"),
    [
        ("https://smba.trafficmanager.net/emea/", "https://smba.trafficmanager.net/emea/"),
        ("https://SMBA.trafficmanager.net/emea", "https://smba.trafficmanager.net:443/emea/"),
        ("https://smba.trafficmanager.net/amer/", None),
        ("https://webchat.botframework.com/", None),
        ("https://smba.infra.gcc.teams.microsoft.com/gcc/", None),
    ],
)
def test_public_cloud_service_urls_pass(service_url: str, claim: str | None) -> None:
    assert PUBLIC.check(service_url, claim) == service_url


@pytest.mark.parametrize(
    ("service_url", "claim"),
    [
        ("https://evil.example/", "https://smba.trafficmanager.net/emea/"),
        ("https://smba.trafficmanager.net/amer/", "https://smba.trafficmanager.net/emea/"),
        ("https://smba.trafficmanager.net:8443/emea/", "https://smba.trafficmanager.net/emea/"),
        ("http://smba.trafficmanager.net/emea/", "http://smba.trafficmanager.net/emea/"),
        ("https://evil.example/", None),
        ("https://botframework.com.evil.example/", None),
        ("https://evilbotframework.com/", None),
        ("https://attacker.trafficmanager.net/", None),  # anyone can own a *.trafficmanager.net
        ("https://user:pw@smba.trafficmanager.net/", None),
        ("http://127.0.0.1:9/", None),
        ("not a url", None),
        ("", None),
        (None, None),
        ("https://smba.trafficmanager.net/emea/", ["https://smba.trafficmanager.net/emea/"]),
    ],
)
def test_other_service_urls_are_refused(service_url: object, claim: object) -> None:
    with pytest.raises(ServiceUrlRefused):
        PUBLIC.check(service_url, claim)


def test_plain_http_is_allowed_only_on_an_allow_listed_loopback_host() -> None:
    local = ServiceUrlPolicy.from_setting(" 127.0.0.1 , localhost")
    assert local.check("http://127.0.0.1:3978/", None) == "http://127.0.0.1:3978/"
    assert local.check("http://localhost:3978/", None) == "http://localhost:3978/"
    with pytest.raises(ServiceUrlRefused):
        local.check("http://10.0.0.1:3978/", None)


# -- settings -----------------------------------------------------------------------------


def test_blank_endpoint_settings_mean_the_public_cloud(monkeypatch: pytest.MonkeyPatch) -> None:
    names = ("OPENID_METADATA_URL", "TOKEN_AUTHORITY", "TOKEN_SCOPE", "ALLOWED_SERVICE_HOSTS")
    for name in names:
        monkeypatch.setenv(f"TEAMS_{name}", "  ")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.teams_openid_metadata_url == (
        "https://login.botframework.com/v1/.well-known/openidconfiguration"
    )
    assert settings.teams_token_authority == "https://login.microsoftonline.com"
    assert settings.teams_token_scope == "https://api.botframework.com/.default"
    assert PUBLIC.host_allowed("smba.trafficmanager.net")


@pytest.mark.parametrize(
    ("authority", "tenant", "expected"),
    [
        ("https://login.microsoftonline.com", TENANT, f"https://login.microsoftonline.com/{TENANT}"),
        ("https://login.microsoftonline.us/", None, "https://login.microsoftonline.us/botframework.com"),
        ("https://login.partner.microsoftonline.cn/my-tenant", TENANT, "https://login.partner.microsoftonline.cn/my-tenant"),
    ],
)  # fmt: skip
def test_the_authority_names_a_tenant(authority: str, tenant: str | None, expected: str) -> None:
    assert authority_url(authority, tenant) == expected


def test_a_metadata_url_must_be_https_off_loopback() -> None:
    with pytest.raises(ValueError, match="TEAMS_OPENID_METADATA_URL"):
        BotFrameworkTokens(
            "http://login.botframework.com/v1/.well-known/openidconfiguration", APP_ID
        )


# -- inbound tokens -----------------------------------------------------------------------


async def test_a_key_not_endorsed_for_teams_is_refused(
    worlds: WorldFactory, connector: FakeConnector
) -> None:
    connector.endorsements = ["webchat"]
    world = await worlds.build(
        TEAMS_APP_ID=APP_ID,
        TEAMS_OPENID_METADATA_URL=connector.metadata_url,
        provider=lambda _config: FixedTokenProvider(),
    )
    user, _ = await roster_member(world, "Kari Nordmann")

    assert (await world.post(world.message(user, "/pause"))).status_code == 401
    assert await world.count(Identity) == 0
    assert connector.calls == []


async def test_a_token_from_another_clouds_issuer_is_refused(
    secured: TeamsWorld, connector: FakeConnector
) -> None:
    user, _ = await roster_member(secured, "Kari Nordmann")
    token = connector.token(APP_ID, iss="https://api.botframework.us")

    assert (await secured.post(secured.message(user, "/pause"), token=token)).status_code == 401
    assert await secured.count(ProcessedEvent) == 0


async def test_unreachable_keys_answer_503_so_the_bot_framework_retries(
    worlds: WorldFactory, connector: FakeConnector
) -> None:
    async with FakeConnector() as gone:
        metadata_url = gone.metadata_url  # closed when the block ends
    world = await worlds.build(
        TEAMS_APP_ID=APP_ID,
        TEAMS_OPENID_METADATA_URL=metadata_url,
        provider=lambda _config: FixedTokenProvider(),
    )
    user, _ = await roster_member(world, "Kari Nordmann")

    assert (await world.post(world.message(user, "/pause"))).status_code == 503
    assert await world.count(ProcessedEvent) == 0
    assert connector.calls == []


async def test_a_rotated_key_is_fetched_but_unknown_keys_cannot_hammer_the_key_service(
    connector: FakeConnector,
) -> None:
    now = [1000.0]
    tokens = BotFrameworkTokens(connector.metadata_url, APP_ID, clock=lambda: now[0])
    assert (await tokens.verify(connector.token(APP_ID), "msteams"))["aud"] == APP_ID
    connector.rotate_key("rotated-key")
    rotated = connector.token(APP_ID)

    now[0] += 30  # an unknown key id within a minute of the last fetch: no new fetch
    with pytest.raises(TokenRefused, match="unknown key"):
        await tokens.verify(rotated, "msteams")
    fetches = len(connector.fetched)
    now[0] += 31
    assert (await tokens.verify(rotated, "msteams"))["aud"] == APP_ID
    assert len(connector.fetched) == fetches + 2  # the metadata, then the keys


# -- the bot's own token ------------------------------------------------------------------


@pytest.fixture
async def login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeConnector]:
    """The fake login service on HTTPS (MSAL accepts nothing else), its CA trusted."""
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    async with FakeConnector(tls=context, app_id=APP_ID, app_password="pw") as fake:
        yield fake


def credentials(login: FakeConnector, password: str) -> BotFrameworkCredentials:
    scope = "https://api.botframework.azure.cn/.default"
    config = AgentAuthConfiguration(
        client_id=APP_ID,
        tenant_id=TENANT,
        client_secret=password,
        authority=login.authority(TENANT),
        scopes=[scope],
    )
    return BotFrameworkCredentials(config)


async def fetch_token(provider: BotFrameworkCredentials) -> str:
    """Ask for a token as the SDK's adapter does, from another thread and loop.

    MSAL's discovery blocks the calling thread; the fake serves on this test's loop.
    """

    def ask() -> str:
        scopes = list(SDK_DEFAULT_SCOPES)
        return asyncio.run(provider.get_access_token("https://api.botframework.com", scopes))

    return await asyncio.to_thread(ask)


async def test_the_bots_token_comes_from_the_configured_authority_for_the_configured_scope(
    login: FakeConnector,
) -> None:
    token = await fetch_token(credentials(login, "pw"))

    assert token in login.issued
    [request] = login.token_requests
    assert request["scope"] == "https://api.botframework.azure.cn/.default"
    assert (request["client_id"], request["grant_type"]) == (APP_ID, "client_credentials")


async def test_a_wrong_password_gets_no_token(login: FakeConnector) -> None:
    with pytest.raises(ValueError):
        await fetch_token(credentials(login, "wrong"))
    assert login.issued == []
