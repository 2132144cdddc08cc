"""Link Teams users to roster people by their AAD email or UPN."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.teams import PLATFORM
from bot.services.identities import find_identity, link_identity

log = logging.getLogger(__name__)


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
