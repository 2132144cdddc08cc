"""Multi-workspace installs: slack-sdk's SQLAlchemy stores on our tables, bot tokens per team.

The stores' tables are `storage.models.slack_oauth`, created by our migrations; the stores'
own `create_tables` is never called.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from slack_bolt.oauth.async_callback_options import (
    AsyncCallbackOptions,
    AsyncFailureArgs,
    AsyncSuccessArgs,
)
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from sqlalchemy import distinct, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.channels.slack.api import required_scopes
from storage.models import SlackBot

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
STATE_SECONDS = 600

# Called with the team id after a workspace installed the app.
OnInstalled = Callable[[str], Awaitable[None]]


class InstalledTokens:
    """Find the bot token of a workspace in the installation tables."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], client_id: str) -> None:
        self.sessions = sessions
        self.client_id = client_id

    async def bot_token(self, team: str | None) -> str | None:
        """Return the latest bot token of `team`; without a team, of the only workspace."""
        async with self.sessions() as session:
            if team is None:
                teams = await self.teams(session)
                if len(teams) != 1:
                    return None
                team = teams[0]
            # By team alone, so a workspace of an Enterprise Grid org is found too.
            return await session.scalar(
                select(SlackBot.bot_token)
                .where(
                    SlackBot.client_id == self.client_id,
                    SlackBot.team_id == team,
                    SlackBot.bot_token.is_not(None),
                )
                .order_by(SlackBot.installed_at.desc(), SlackBot.id.desc())
                .limit(1)
            )

    async def teams(self, session: AsyncSession | None = None) -> list[str]:
        """Return every workspace that has installed the app."""
        query = select(distinct(SlackBot.team_id)).where(
            SlackBot.client_id == self.client_id, SlackBot.team_id.is_not(None)
        )
        if session is not None:
            return sorted(str(team) for team in await session.scalars(query))
        async with self.sessions() as own:
            return sorted(str(team) for team in await own.scalars(query))


def oauth_settings(
    *,
    engine: AsyncEngine,
    client_id: str,
    client_secret: str,
    public_url: str,
    on_installed: OnInstalled | None = None,
) -> AsyncOAuthSettings:
    """Return bolt's OAuth settings: our tables, our scopes, /slack/install and the redirect."""

    async def success(args: AsyncSuccessArgs) -> BoltResponse:
        team = args.installation.team_id
        if on_installed is not None and team:
            await on_installed(str(team))
        return await args.default.success(args)

    async def failure(args: AsyncFailureArgs) -> BoltResponse:
        return await args.default.failure(args)

    return AsyncOAuthSettings(
        client_id=client_id,
        client_secret=client_secret,
        scopes=sorted(required_scopes()),
        user_scopes=[],
        redirect_uri=public_url.rstrip("/") + REDIRECT_PATH,
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        installation_store=AsyncSQLAlchemyInstallationStore(client_id=client_id, engine=engine),
        installation_store_bot_only=True,
        state_store=AsyncSQLAlchemyOAuthStateStore(expiration_seconds=STATE_SECONDS, engine=engine),
        state_expiration_seconds=STATE_SECONDS,
        callback_options=AsyncCallbackOptions(success=success, failure=failure),
    )
