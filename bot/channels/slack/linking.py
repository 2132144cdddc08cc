"""Link Slack users to roster people: by the email on their profile, or the roster's slack_id.

Time zone from Slack: when a person is first linked, their Slack profile's `tz` becomes
their time zone if, and only if,
- their time zone is still the roster default (Europe/Oslo), since the roster cannot tell
  "left empty" from "Oslo on purpose" and Slack's value is then the better guess;
- they have answered nothing yet (no reflection answer, no pulse receipt), so no rhythm
  they have already got used to moves under them;
- Slack's value is a valid IANA zone that differs from the current one.
Each change is written to the audit log. Later they can change it in the App Home.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.port import SendError
from bot.channels.slack.channel import SlackChannel
from bot.core.roster import DEFAULT_TIMEZONE
from bot.services.identities import find_identity, link_identity
from bot.services.preferences import valid_timezone
from storage.models import Answer, AuditEntry, Identity, Person, PulseReceipt

log = logging.getLogger(__name__)
PLATFORM = "slack"


async def adopt_profile_timezone(session: AsyncSession, person: Person, tz: str | None) -> bool:
    """Take the Slack profile's time zone under the rule above; return whether it changed."""
    if not tz or tz == person.timezone or person.timezone != DEFAULT_TIMEZONE:
        return False
    if not valid_timezone(tz):
        return False
    answered = await session.scalar(
        select(
            or_(
                exists().where(Answer.person_id == person.id),
                exists().where(PulseReceipt.person_id == person.id),
            )
        )
    )
    if answered:
        return False
    session.add(
        AuditEntry(
            actor_id=None,
            action="person.timezone_from_slack",
            subject=f"person:{person.id}",
            detail={"from": person.timezone, "to": tz},
        )
    )
    person.timezone = tz
    return True


class SlackLinker:
    """Create the Identity of a Slack user the first time we hear from them."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], channel: SlackChannel) -> None:
        self.sessions = sessions
        self.channel = channel
        self._known: set[str] = set()
        self._dms: dict[tuple[str, str | None], str] = {}  # (user, team) -> their own DM

    async def ensure(
        self, user: str, dm_channel: str | None = None, team: str | None = None
    ) -> bool:
        """Link `user` if the roster knows them; return whether they are linked.

        A payload's `dm_channel` is stored only if it is `user`'s own DM (see `own_dm`).
        """
        if user in self._known:
            return True
        dm = await self.own_dm(user, dm_channel, team) if dm_channel else None
        wanted = _address(user, dm, team)
        async with self.sessions() as session, session.begin():
            identity = await find_identity(session, PLATFORM, user)
            if identity is not None:
                if any(identity.address.get(key) != value for key, value in wanted.items()):
                    identity.address = {**identity.address, **wanted}
                self._known.add(user)
                return True
        profile = await self._profile(user, team)
        email = (profile.get("profile") or {}).get("email")
        async with self.sessions() as session, session.begin():
            linked = await link_identity(
                session, PLATFORM, user, email=str(email) if email else None, address=wanted
            )
            person = await session.get(Person, linked.person_id) if linked else None
            if person is not None:
                await adopt_profile_timezone(session, person, profile.get("tz"))
        if linked is not None:
            self._known.add(user)
        return linked is not None

    async def own_dm(self, user: str, claimed: str, team: str | None = None) -> str | None:
        """Return `user`'s own DM: the one we stored or Slack's conversations.open names.

        A conversation id in a payload is never taken on trust, so a payload whose user is
        not the owner of its DM cannot route one person's messages into another's DM.
        """
        known = self._dms.get((user, team))
        if known is None:
            async with self.sessions() as session:
                identity = await find_identity(session, PLATFORM, user)
                stored = identity.address.get("channel") if identity is not None else None
            known = str(stored) if stored else None
        if known is None:
            try:
                known = await self.channel.open_dm(user, team)
            except SendError as error:
                log.warning("slack conversations.open failed: %s", error)
                return None
        self._dms[(user, team)] = known
        if known != claimed:
            log.warning("slack: a payload put %s in a conversation that is not theirs", user)
        return known

    async def _profile(self, user: str, team: str | None) -> dict[str, Any]:
        try:
            return await self.channel.user_profile(user, team)
        except SendError as error:
            log.warning("slack users.info failed: %s", error)
            return {}

    async def link_roster(self, team: str | None = None) -> int:
        """Link every roster person without a Slack identity; return how many were linked."""
        async with self.sessions() as session:
            linked_ids = select(Identity.person_id).where(Identity.platform == PLATFORM)
            people = list(await session.scalars(select(Person).where(Person.id.not_in(linked_ids))))
        count = 0
        for person in people:
            profile: dict[str, Any] | None = None
            user: str | None
            if person.slack_id:
                user = person.slack_id
            else:
                profile = await self.channel.lookup_by_email(person.email, team)
                user = str(profile["id"]) if profile else None
            if user is None:
                continue
            async with self.sessions() as session, session.begin():
                identity = await link_identity(
                    session, PLATFORM, user, email=person.email, address=_address(user, None, team)
                )
                fresh = await session.get(Person, person.id)
                if identity is not None and profile is not None and fresh is not None:
                    await adopt_profile_timezone(session, fresh, profile.get("tz"))
            count += identity is not None
        return count


def _address(user: str, dm_channel: str | None, team: str | None) -> dict[str, Any]:
    address: dict[str, Any] = {"user": user}
    if dm_channel:
        address["channel"] = dm_channel
    if team:
        address["team"] = team
    return address
