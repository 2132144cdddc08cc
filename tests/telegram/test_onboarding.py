"""Joining by invite link: `tenkepause invite telegram`, `/start <code>`, consent."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner, Result

from bot.channels.telegram.onboarding import create_invites
from bot.cli import app as cli
from bot.clock import SystemClock
from bot.settings import get_settings
from storage.models import Identity, OneTimeCode, Person
from tests import factories
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI, FakeUser
from tests.telegram.harness import Harness

KARI = FakeUser(7001, "Kari", language_code="nb")
OLA = FakeUser(7002, "Ola", language_code="en")


async def leader(sessions: async_sessionmaker[AsyncSession], **values: object) -> Person:
    """Create a roster person and commit."""
    async with sessions() as session, session.begin():
        values.setdefault("locale", "en")
        return await factories.person(session, **values)


async def invite_code(harness: Harness) -> str:
    """Create a roster leader with an invite and return its code."""
    person = await leader(harness.sessions)
    async with harness.sessions() as session, session.begin():
        [invite] = await create_invites(session, [person], harness.clock.now())
    return invite.code


async def consent_card(harness: Harness, code: str | None = None) -> dict[str, Any]:
    """Send `/start CODE` as Kari (a fresh invite's code by default); return the consent card."""
    code = code or await invite_code(harness)
    await harness.send(harness.api.text_update(KARI, f"/start {code}"))
    return harness.api.last_sent_to(KARI.id)


async def invite_command(
    api: FakeTelegramAPI, db_url: str, monkeypatch: pytest.MonkeyPatch, *options: str
) -> Result:
    """Run `tenkepause invite telegram OPTIONS` on the test database and the fake Bot API."""
    monkeypatch.setenv("TENKEPAUSE_DATABASE_URL", db_url)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_API_URL", api.base_url)
    get_settings.cache_clear()
    try:
        return await asyncio.to_thread(CliRunner().invoke, cli, ["invite", "telegram", *options])
    finally:
        get_settings.cache_clear()


async def telegram_identities(harness: Harness) -> list[Identity]:
    """Return every Telegram identity."""
    async with harness.sessions() as session:
        return list(await session.scalars(select(Identity).where(Identity.platform == "telegram")))


async def test_invite_link_start_and_consent_link_the_leader(
    harness: Harness,
    telegram_api: FakeTelegramAPI,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    person = await leader(harness.sessions, name="Kari Nordmann")
    export = tmp_path / "invites.csv"
    result = await invite_command(telegram_api, db_url, monkeypatch, "--output", str(export))
    assert result.exit_code == 0, result.output
    header, line = export.read_text().splitlines()
    assert header == "email,name,link,expires_at"
    email, name, link, _expires = line.split(",")
    assert (email, name) == (person.email, "Kari Nordmann")
    assert link.startswith("https://t.me/tenkepause_test_bot?start=")
    code = link.rpartition("=")[2]
    assert 16 <= len(code) <= 64 and all(c.isalnum() or c in "-_" for c in code)
    async with harness.sessions() as session:
        stored = (await session.scalars(select(OneTimeCode))).one()
    assert stored.code_hash == hashlib.sha256(code.encode()).hexdigest()  # never the code
    assert stored.expires_at == stored.created_at + timedelta(days=14)

    harness.clock.current = SystemClock().now()  # the command stamps codes with the real time
    consent = await consent_card(harness, code)
    assert "Kari Nordmann" in consent["text"]
    assert "only you, your coach, or your peer group" in consent["text"]
    assert [b["text"] for b in telegram_api.buttons(consent)] == ["Accept", "Decline"]
    [pending] = await telegram_identities(harness)
    assert (pending.status, pending.person_id, pending.external_id) == (
        "pending",
        person.id,
        "7001",
    )
    assert pending.address == {"chat_id": KARI.id}

    await harness.send(telegram_api.click_update(KARI, consent, index=0))

    [linked] = await telegram_identities(harness)
    assert linked.status == "active" and linked.consent_at == harness.clock.now()
    async with harness.sessions() as session:
        used = (await session.scalars(select(OneTimeCode))).one()
    assert used.used_at == harness.clock.now()
    assert telegram_api.answers_to_callbacks()[-1]["text"] == "Linked."
    assert telegram_api.last_sent_to(KARI.id)["text"].startswith("Thank you!")  # edited in place


async def test_declining_links_nothing_and_keeps_the_code(
    harness: Harness, telegram_api: FakeTelegramAPI
) -> None:
    consent = await consent_card(harness)

    await harness.send(telegram_api.click_update(KARI, consent, index=1))

    assert await telegram_identities(harness) == []
    assert telegram_api.last_sent_to(KARI.id)["text"].startswith("Nothing was linked")
    async with harness.sessions() as session:
        assert (await session.scalars(select(OneTimeCode))).one().used_at is None


async def test_a_used_code_is_refused_and_links_nothing(
    harness: Harness, telegram_api: FakeTelegramAPI
) -> None:
    code = await invite_code(harness)
    await harness.send(telegram_api.click_update(KARI, await consent_card(harness, code)))

    await harness.send(telegram_api.text_update(OLA, f"/start {code}"))

    assert telegram_api.last_sent_to(OLA.id)["text"].startswith("This link has already been used")
    assert telegram_api.buttons(telegram_api.last_sent_to(OLA.id)) == []
    [only] = await telegram_identities(harness)
    assert only.external_id == str(KARI.id)


async def test_an_expired_code_is_refused_and_links_nothing(
    harness: Harness, telegram_api: FakeTelegramAPI
) -> None:
    code = await invite_code(harness)
    harness.clock.advance(days=14, seconds=1)

    await harness.send(telegram_api.text_update(KARI, f"/start {code}"))

    assert telegram_api.last_sent_to(KARI.id)["text"].startswith("This link has expired")
    assert await telegram_identities(harness) == []


async def test_a_code_that_expires_before_consent_links_nothing(
    harness: Harness, telegram_api: FakeTelegramAPI
) -> None:
    consent = await consent_card(harness)
    harness.clock.advance(days=15)

    await harness.send(telegram_api.click_update(KARI, consent))

    assert await telegram_identities(harness) == []
    assert telegram_api.answers_to_callbacks()[-1]["text"].startswith("This link has expired")


@pytest.mark.parametrize("code", ["not-a-real-code-at-all", "A" * 22])
async def test_a_random_code_is_refused_and_links_nothing(
    harness: Harness, telegram_api: FakeTelegramAPI, code: str
) -> None:
    await leader(harness.sessions)

    await harness.send(telegram_api.text_update(OLA, f"/start {code}"))

    assert telegram_api.last_sent_to(OLA.id)["text"].startswith("This link is not valid")
    assert await telegram_identities(harness) == []


async def test_refusals_speak_the_users_language(
    harness: Harness, telegram_api: FakeTelegramAPI
) -> None:
    await harness.send(telegram_api.text_update(KARI, "/start nope"))
    text = telegram_api.last_sent_to(KARI.id)["text"]  # Kari's Telegram speaks nb
    assert text == "Denne lenken er ikke gyldig. Be programkoordinatoren din om en ny."


async def test_a_forged_consent_button_changes_nothing(
    harness: Harness, telegram_api: FakeTelegramAPI
) -> None:
    consent = await consent_card(harness)
    forged = telegram_api.buttons(consent)[0]["callback_data"].replace("yes", "yez")

    await harness.send(telegram_api.click_update(KARI, consent, data=forged))

    [identity] = await telegram_identities(harness)
    assert identity.status == "pending"
    assert "no longer valid" in telegram_api.answers_to_callbacks()[-1]["text"]


async def test_someone_else_cannot_accept_anothers_consent(
    harness: Harness, telegram_api: FakeTelegramAPI
) -> None:
    consent = await consent_card(harness)

    await harness.send(telegram_api.click_update(OLA, consent, index=0))

    [identity] = await telegram_identities(harness)
    assert (identity.status, identity.external_id) == ("pending", str(KARI.id))


async def test_invite_refuses_an_unknown_cohort(
    telegram_api: FakeTelegramAPI, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = await invite_command(telegram_api, db_url, monkeypatch, "--cohort", "kull-9")
    assert result.exit_code == 1
    assert result.output.strip() == "error: --cohort: there is no cohort named 'kull-9'"
