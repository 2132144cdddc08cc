"""Join by invite link: one-time codes, `/start <code>`, and consent.

Codes come from `bot.services.one_time_codes`, which stores only their SHA-256 hashes.
An invite links nothing until its person accepts the consent message; the code is
spent only then.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.port import SendError
from bot.channels.telegram.channel import PLATFORM, TelegramChannel
from bot.clock import Clock
from bot.core.messages import Button, OutMessage
from bot.i18n import N_, gettext_for
from bot.services.events import first_time
from bot.services.one_time_codes import (
    CodeProblem,
    claim_code,
    find_code,
    issue_code,
    problem_with,
)
from storage.models import AuditEntry, Identity, OneTimeCode, Person

log = logging.getLogger(__name__)

INVITE = "telegram_invite"
CONSENT = "tgc"  # button action of the consent message
INVITE_DAYS = 14


def invite_link(bot_username: str, code: str) -> str:
    """Return the deep link that starts the bot with the code."""
    return f"https://t.me/{bot_username}?start={code}"


@dataclass(frozen=True)
class Invite:
    """One person's fresh invite."""

    person: Person
    code: str
    expires_at: datetime


async def create_invites(
    session: AsyncSession, people: Sequence[Person], now: datetime, days: int = INVITE_DAYS
) -> list[Invite]:
    """Create one invite code per person; the caller commits."""
    ttl = timedelta(days=days)
    return [
        Invite(
            person,
            await issue_code(session, INVITE, now=now, ttl=ttl, person_id=person.id),
            now + ttl,
        )
        for person in people
    ]


def _locale(person: Person | None, language_code: str | None) -> str:
    if person is not None:
        return person.locale
    code = (language_code or "").lower()
    return "en" if code.startswith("en") else "nn" if code.startswith("nn") else "nb"


@dataclass
class Onboarding:
    """Handle invite codes and consent inside one transaction each."""

    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    secret: str

    def _refusal(self, row: OneTimeCode | None, now: datetime, locale: str) -> str | None:
        """Return why a code cannot be used, or None if it can."""
        _ = gettext_for(locale).gettext
        problem = problem_with(row, now)
        if problem is CodeProblem.UNKNOWN:
            return _("This link is not valid. Please ask your programme coordinator for a new one.")
        if problem is CodeProblem.USED:
            return _(
                "This link has already been used. "
                "Please ask your programme coordinator for a new one."
            )
        if problem is CodeProblem.EXPIRED:
            return _("This link has expired. Please ask your programme coordinator for a new one.")
        return None

    async def start(
        self, event_id: str, *, user_id: int, chat_id: int, code: str, language_code: str | None
    ) -> OutMessage | None:
        """Handle `/start <code>`: check the code, create a pending link, ask for consent."""
        now = self.clock.now()
        async with self.sessions() as session, session.begin():
            if not await first_time(session, PLATFORM, event_id):
                return None
            row = await find_code(session, INVITE, code)
            person = await session.get(Person, row.person_id) if row and row.person_id else None
            locale = _locale(person, language_code)
            refusal = self._refusal(row, now, locale)
            if refusal is not None or row is None or person is None:
                log.info("invite refused", extra={"known_code": row is not None})
                return OutMessage(text=refusal or "", locale=locale, tag="invite_refused")
            problem = await self._pending_identity(session, person, user_id, chat_id)
            if problem is not None:
                return OutMessage(text=gettext_for(locale).gettext(problem), locale=locale)
            return self._consent_message(person, row.id)

    async def _pending_identity(
        self, session: AsyncSession, person: Person, user_id: int, chat_id: int
    ) -> str | None:
        """Create or move the person's Telegram identity to this account, pending consent."""
        external_id = str(user_id)
        taken = await session.scalar(
            select(Identity).where(
                Identity.platform == PLATFORM, Identity.external_id == external_id
            )
        )
        if taken is not None and taken.person_id != person.id:
            return N_("This Telegram account is already linked to someone else in Tenkepause.")
        if taken is not None and taken.status == "active":
            return N_(
                "This Telegram account is already linked to you. Write /help to see what I can do."
            )
        own = await session.scalar(
            select(Identity).where(Identity.person_id == person.id, Identity.platform == PLATFORM)
        )
        if own is None:
            own = Identity(person_id=person.id, platform=PLATFORM, external_id=external_id)
            session.add(own)
        own.external_id, own.address = external_id, {"chat_id": chat_id}
        own.status, own.status_reason, own.consent_at = "pending", None, None
        await session.flush()
        return None

    def _consent_message(self, person: Person, code_id: int) -> OutMessage:
        _ = gettext_for(person.locale).gettext
        text = _(
            "Welcome to Tenkepause, {name}!\n\n"
            "Before we start: Tenkepause stores your name, your Telegram user id and the "
            "answers you give here. For each reflection you choose who can read it: only you, "
            "your coach, or your peer group. Anonymous pulse surveys are stored without your "
            "name. You can unlink at any time with /stop.\n\n"
            "Do you accept?"
        ).format(name=person.name)
        buttons = (
            Button(_("Accept"), CONSENT, f"{code_id}.yes", style="primary"),
            Button(_("Decline"), CONSENT, f"{code_id}.no", style="danger"),
        )
        return OutMessage(text=text, locale=person.locale, rows=(buttons,), tag="consent")

    async def consent(
        self,
        event_id: str,
        *,
        user_id: int,
        value: str,
        message_ref: str | None,
        channel: TelegramChannel,
    ) -> str | None:
        """Handle Accept or Decline; return the short notice for the callback answer."""
        now = self.clock.now()
        code_id, _sep, choice = value.partition(".")
        async with self.sessions() as session, session.begin():
            if not await first_time(session, PLATFORM, event_id):
                return None
            row = await session.get(OneTimeCode, int(code_id)) if code_id.isdigit() else None
            identity = await session.scalar(
                select(Identity).where(
                    Identity.platform == PLATFORM, Identity.external_id == str(user_id)
                )
            )
            person = await session.get(Person, identity.person_id) if identity else None
            locale = _locale(person, None)
            _ = gettext_for(locale).gettext
            if (
                row is None
                or identity is None
                or identity.status != "pending"
                or row.purpose != INVITE
                or row.person_id != identity.person_id
            ):
                return _("This button is no longer valid. Nothing was changed.")
            address = dict(identity.address)
            refusal = self._refusal(row, now, locale)
            if refusal is not None:
                await session.delete(identity)
                result, notice = refusal, refusal
            elif choice == "yes":
                if not await claim_code(session, row, now):
                    # A simultaneous tap spent the code and linked the account; say nothing twice.
                    return None
                identity.status, identity.consent_at = "active", now
                session.add(
                    AuditEntry(
                        actor_id=identity.person_id,
                        action="identity.consent",
                        subject=f"telegram:{identity.id}",
                    )
                )
                result = _(
                    "Thank you! Your Telegram account is now linked. Reflection prompts and "
                    "pulse questions will arrive here. Write /help to see what I can do."
                )
                notice = _("Linked.")
            else:
                await session.delete(identity)
                result = _(
                    "Nothing was linked and nothing about you was stored from Telegram. "
                    "You can open the invite link again if you change your mind."
                )
                notice = _("Nothing was linked.")
        await self._show(channel, message_ref, address, OutMessage(result, locale))
        return notice

    @staticmethod
    async def _show(
        channel: TelegramChannel, ref: str | None, address: dict[str, object], message: OutMessage
    ) -> None:
        """Put the outcome in place of the consent message (or send it if that fails)."""
        try:
            if ref is not None:
                await channel.update(ref, message)
                return
        except (SendError, ValueError) as error:
            log.info("consent message not edited", extra={"error": type(error).__name__})
        try:
            await channel.send(address, message)
        except SendError as error:
            log.warning("consent outcome not sent", extra={"error": type(error).__name__})
