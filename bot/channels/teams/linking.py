"""Link Teams users to roster people by AAD email/UPN, and Teams chats to peer groups."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.teams import PLATFORM
from bot.clock import Clock
from bot.core.messages import OutMessage
from bot.i18n import gettext_for
from bot.services.identities import find_identity, link_identity
from bot.services.one_time_codes import CodeProblem, issue_code, redeem_code
from storage.models import AuditEntry, GroupChat, PeerGroup, Person

log = logging.getLogger(__name__)

GROUP_LINK = "teams_group_link"
GROUP_LINK_DAYS = 7
STAFF = ("coach", "admin")


async def create_group_link_code(
    session: AsyncSession, group: PeerGroup, now: datetime, days: int = GROUP_LINK_DAYS
) -> str:
    """Create a code a coach types as `link CODE` in a Teams chat; the caller commits."""
    return await issue_code(
        session, GROUP_LINK, now=now, ttl=timedelta(days=days), group_id=group.id
    )


def email_of(account: dict[str, Any]) -> str | None:
    """Return the email, else the UPN, of a Teams account's extra properties."""
    for key in ("email", "userPrincipalName", "user_principal_name"):
        value = account.get(key)
        if value and "@" in str(value):
            return str(value)
    return None


async def known(sessions: async_sessionmaker[AsyncSession], external_id: str) -> bool:
    """Tell whether this Teams user is linked already."""
    async with sessions() as session:
        return await find_identity(session, PLATFORM, external_id) is not None


async def refresh_address(
    sessions: async_sessionmaker[AsyncSession], external_id: str, address: dict[str, Any]
) -> None:
    """Store a newer conversation reference on a linked identity, if it changed."""
    async with sessions() as session, session.begin():
        identity = await find_identity(session, PLATFORM, external_id)
        if identity is None:
            return
        merged = {**identity.address, **address}
        if merged != identity.address:
            identity.address = merged


async def link_user(
    sessions: async_sessionmaker[AsyncSession],
    external_id: str,
    email: str | None,
    address: dict[str, Any],
) -> bool:
    """Link a Teams user to the roster person with this email or UPN; return whether linked."""
    async with sessions() as session, session.begin():
        identity = await link_identity(session, PLATFORM, external_id, email=email, address=address)
    if identity is None:
        log.info("teams user not in the roster", extra={"has_email": email is not None})
    return identity is not None


async def link_group(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    *,
    external_id: str,
    chat_id: str,
    code: str,
    address: dict[str, Any],
) -> OutMessage:
    """Handle `link CODE` in a group chat or channel: a coach links it to a peer group."""
    now = clock.now()
    async with sessions() as session, session.begin():
        identity = await find_identity(session, PLATFORM, external_id)
        person = await session.get(Person, identity.person_id) if identity else None
        locale = person.locale if person is not None else "nb"
        _ = gettext_for(locale).gettext

        def say(text: str) -> OutMessage:
            return OutMessage(text=text, locale=locale, tag="group_link")

        if identity is None or person is None or identity.status != "active":
            return say(
                _("Only a linked coach can link this chat. Write to me in a 1:1 chat first.")
            )
        if person.role not in STAFF:
            return say(_("Only a coach can link a group chat to a peer group."))
        row = await redeem_code(session, GROUP_LINK, code, now) if code else CodeProblem.UNKNOWN
        if isinstance(row, CodeProblem) or row.group_id is None:
            return say(
                _("This code is not valid. Please ask your programme coordinator for a new one.")
            )
        group = await session.get(PeerGroup, row.group_id)
        assert group is not None
        chat = await session.scalar(
            select(GroupChat).where(
                GroupChat.platform == PLATFORM, GroupChat.external_id == chat_id
            )
        )
        if chat is None:
            chat = GroupChat(platform=PLATFORM, external_id=chat_id, group_id=group.id)
            session.add(chat)
        chat.group_id, chat.address, chat.linked_by_id = group.id, address, person.id
        session.add(
            AuditEntry(
                actor_id=person.id,
                action="group_chat.link",
                subject=f"group:{group.name}",
                detail={"platform": PLATFORM},
            )
        )
        return say(
            _(
                "This chat is now linked to the peer group {group}. Group prompts will be "
                "posted here, and answers given here are visible to the group and its coach."
            ).format(group=group.title or group.name)
        )
