"""The bot's own token for the Bot Connector: MSAL client credentials at the configured
authority (TEAMS_TOKEN_AUTHORITY) for the configured scope (TEAMS_TOKEN_SCOPE).

Both travel in the SDK's `AgentAuthConfiguration` (AUTHORITY, SCOPES). Two gaps in the SDK
(1.9) are closed here: its adapter always asks for the public cloud's Bot Framework scope,
whatever SCOPES says, and MSAL asks Microsoft's instance-discovery service (on the public
internet) about any authority host it does not know, which a loopback fake cannot pass.
"""

from __future__ import annotations

from urllib.parse import urlparse

from microsoft_agents.authentication.msal import MsalAuth
from microsoft_agents.hosting.core.authorization.auth_types import AuthTypes
from microsoft_agents.hosting.core.authorization.authentication_constants import (
    AuthenticationConstants,
)
from msal import ConfidentialClientApplication, ManagedIdentityClient

from bot.channels.teams.service_urls import is_loopback

# What the SDK's adapter asks for on every connector and token-service call (its default).
SDK_DEFAULT_SCOPES = [f"{AuthenticationConstants.AGENTS_SDK_SCOPE}/.default"]
DEFAULT_TENANT = "botframework.com"  # the Bot Framework's login tenant for multi-tenant apps


def authority_url(authority: str, tenant_id: str | None) -> str:
    """Return the token authority: the setting as given if it names a tenant, else with one."""
    base = authority.strip().rstrip("/")
    if urlparse(base).path.strip("/"):
        return base
    return f"{base}/{tenant_id or DEFAULT_TENANT}"


def tenant_of(authority: str) -> str:
    """Return the tenant segment of an authority URL."""
    return urlparse(authority).path.strip("/").split("/")[-1]


class BotFrameworkCredentials(MsalAuth):
    """MSAL client credentials that request the configured scope at the configured authority."""

    async def get_access_token(
        self, resource_url: str, scopes: list[str], force_refresh: bool = False
    ) -> str:
        """Return a token; the SDK's public-cloud default scope is replaced by SCOPES."""
        if scopes == SDK_DEFAULT_SCOPES and self.configuration.SCOPES:
            scopes = []  # MsalAuth then resolves the configured SCOPES itself
        return await super().get_access_token(resource_url, scopes, force_refresh)

    def _create_client_application(
        self, tenant_id: str | None = None
    ) -> ConfidentialClientApplication | ManagedIdentityClient:
        config = self.configuration
        authority = MsalAuth._resolve_authority(config, tenant_id)
        secret = AuthTypes.client_secret == config.AUTH_TYPE
        if not secret or not is_loopback(urlparse(authority).hostname):
            return super()._create_client_application(tenant_id)
        # A loopback authority (a local fake or emulator) cannot be vouched for by Microsoft's
        # instance discovery; every other host still is.
        return ConfidentialClientApplication(
            client_id=config.CLIENT_ID,
            authority=authority,
            client_credential=config.CLIENT_SECRET,
            instance_discovery=False,
        )
