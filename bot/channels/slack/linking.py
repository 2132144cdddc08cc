"""Link Slack users to roster people: by the email on their profile, or the roster's slack_id."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.port import SendError
from bot.channels.slack.channel import SlackChannel
from bot.services.identities import find_identity, link_identity
from storage.models import Identity, Person

log = logging.getLogger(__name__)
PLATFORM = "slack"


class SlackLinker:
    """Create the Identity of a Slack user the first time we hear from them."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], channel: SlackChannel) -> None:
        self.sessions = sessions
        self.channel = channel
        self._known: set[str] = set()

    async def ensure(self, user: str, dm_channel: str | None = None) -> bool:
        """Link `user` if the roster knows them; return whether they are linked."""
        if user in self._known:
            return True
        async with self.sessions() as session, session.begin():
            identity = await find_identity(session, PLATFORM, user)
            if identity is not None:
                if dm_channel and identity.address.get("channel") != dm_channel:
                    identity.address = {**identity.address, "user": user, "channel": dm_channel}
                self._known.add(user)
                return True
        email = await self._email(user)
        address: dict[str, Any] = {"user": user}
        if dm_channel:
            address["channel"] = dm_channel
        async with self.sessions() as session, session.begin():
            linked = await link_identity(session, PLATFORM, user, email=email, address=address)
        if linked is not None:
            self._known.add(user)
        return linked is not None

    async def _email(self, user: str) -> str | None:
        try:
            profile = await self.channel.user_profile(user)
        except SendError as error:
            log.warning("slack users.info failed: %s", error)
            return None
        email = (profile.get("profile") or {}).get("email")
        return str(email) if email else None

    async def link_roster(self) -> int:
        """Link every roster person without a Slack identity; return how many were linked."""
        async with self.sessions() as session:
            linked_ids = select(Identity.person_id).where(Identity.platform == PLATFORM)
            people = list(await session.scalars(select(Person).where(Person.id.not_in(linked_ids))))
        count = 0
        for person in people:
            user = person.slack_id or await self.channel.lookup_by_email(person.email)
            if user is None:
                continue
            async with self.sessions() as session, session.begin():
                identity = await link_identity(
                    session, PLATFORM, user, email=person.email, address={"user": user}
                )
            count += identity is not None
        return count
