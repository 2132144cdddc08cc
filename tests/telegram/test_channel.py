"""The outbound Channel on Telegram: rendering, references, edits and error mapping."""

from __future__ import annotations

import asyncio

import pytest
from telegram.ext import Application

from bot.channels.port import Channel, PermanentFailure, RateLimited, TemporaryFailure
from bot.channels.telegram.application import register_commands
from bot.channels.telegram.channel import TelegramChannel
from bot.core import button_codec
from bot.core.messages import Button, OutMessage, TextRequest
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.telegram.harness import SECRET

CHAT = 5550001

PULSE = OutMessage(
    text="How was your week?",
    locale="en",
    rows=(
        tuple(Button(str(n), "pulse", f"r12.i3.{n}") for n in range(1, 6)),
        (Button("Skip", "pulse_skip", "r12.i3"),),
    ),
    context=("Anonymous",),
)


def channel(application: Application) -> TelegramChannel:  # type: ignore[type-arg]
    """Return the channel on the application's rate-limited bot."""
    return TelegramChannel(application.bot, SECRET)


def test_channel_implements_the_port(application: Application) -> None:  # type: ignore[type-arg]
    assert isinstance(channel(application), Channel)


async def test_send_renders_signed_buttons_and_returns_chat_and_message_id(
    application: Application,
    telegram_api: FakeTelegramAPI,  # type: ignore[type-arg]
) -> None:
    ref = await channel(application).send({"chat_id": CHAT}, PULSE)

    sent = telegram_api.last_sent_to(CHAT)
    assert ref == f"{CHAT}:{sent['message_id']}"
    assert sent["text"] == "How was your week?\n\nAnonymous"
    buttons = telegram_api.buttons(sent)
    assert [b["text"] for b in buttons] == ["1", "2", "3", "4", "5", "Skip"]
    assert len(sent["reply_markup"]["inline_keyboard"]) == 2
    for button in buttons:
        assert len(button["callback_data"].encode()) <= 64
    decoded = [button_codec.decode(SECRET, b["callback_data"]) for b in buttons]
    assert decoded[0] == ("pulse", "r12.i3.1")
    assert decoded[-1] == ("pulse_skip", "r12.i3")


async def test_a_text_request_asks_for_a_reply(
    application: Application,
    telegram_api: FakeTelegramAPI,  # type: ignore[type-arg]
) -> None:
    prompt = OutMessage(
        text="What did you learn this week?",
        locale="en",
        title="Reflection",
        ask=TextRequest("Your answer", "answer", "d42"),
    )
    await channel(application).send({"chat_id": CHAT}, prompt)

    sent = telegram_api.last_sent_to(CHAT)
    assert sent["text"].startswith("Reflection\n\nWhat did you learn this week?")
    assert "Reply to this message to answer." in sent["text"]
    assert sent["_sent_markup"]["force_reply"] is True
    assert "reply_markup" not in sent  # no inline keyboard


async def test_update_edits_in_place_and_tolerates_no_change(
    application: Application,
    telegram_api: FakeTelegramAPI,  # type: ignore[type-arg]
) -> None:
    tg = channel(application)
    ref = await tg.send({"chat_id": CHAT}, PULSE)

    thanks = OutMessage(text="Thanks, your answer is saved.", locale="en")
    await tg.update(ref, thanks)
    await tg.update(ref, thanks)  # Telegram says "not modified"; nothing to do

    [message] = telegram_api.sent_to(CHAT)
    assert message["text"] == "Thanks, your answer is saved."
    assert "reply_markup" not in message
    assert len(telegram_api.calls_to("editMessageText", ok_only=False)) == 2


async def test_group_chat_ids_keep_their_sign_in_references(
    application: Application,
    telegram_api: FakeTelegramAPI,  # type: ignore[type-arg]
) -> None:
    tg = channel(application)
    ref = await tg.send({"chat_id": -1001234}, OutMessage(text="Group prompt", locale="en"))
    assert ref.startswith("-1001234:")
    await tg.update(ref, OutMessage(text="Group prompt (closed)", locale="en"))
    assert telegram_api.last_sent_to(-1001234)["text"] == "Group prompt (closed)"


@pytest.mark.parametrize("error", ["blocked", "deactivated", "cannot_initiate", "chat_not_found"])
async def test_unreachable_recipients_are_permanent_failures(
    application: Application,
    telegram_api: FakeTelegramAPI,
    error: str,  # type: ignore[type-arg]
) -> None:
    telegram_api.fail("sendMessage", error, chat_id=CHAT)
    with pytest.raises(PermanentFailure) as raised:
        await channel(application).send({"chat_id": CHAT}, PULSE)
    assert raised.value.reason


async def test_flood_control_is_rate_limited_with_retry_after(
    application: Application,
    telegram_api: FakeTelegramAPI,  # type: ignore[type-arg]
) -> None:
    telegram_api.fail("sendMessage", "retry_after", retry_after=7)
    with pytest.raises(RateLimited) as raised:
        await channel(application).send({"chat_id": CHAT}, PULSE)
    assert raised.value.retry_after == 7


async def test_server_errors_are_temporary(
    application: Application,
    telegram_api: FakeTelegramAPI,  # type: ignore[type-arg]
) -> None:
    telegram_api.fail("sendMessage", "server_error")
    with pytest.raises(TemporaryFailure):
        await channel(application).send({"chat_id": CHAT}, PULSE)


async def test_the_rate_limiter_retries_after_flood_control(
    telegram_api: FakeTelegramAPI,
) -> None:
    from bot.channels.telegram.application import build_application
    from tests.telegram.harness import telegram_settings

    app = build_application(telegram_settings(telegram_api), polling=False, max_retries=2)
    async with app:
        telegram_api.fail("sendMessage", "retry_after", retry_after=1)
        ref = await TelegramChannel(app.bot, SECRET).send({"chat_id": CHAT}, PULSE)
    statuses = [c.status for c in telegram_api.calls_to("sendMessage", ok_only=False)]
    assert statuses == [429, 200]
    assert ref.endswith(f":{telegram_api.last_sent_to(CHAT)['message_id']}")


async def test_open_group_is_not_possible(application: Application) -> None:  # type: ignore[type-arg]
    assert await channel(application).open_group([{"chat_id": 1}, {"chat_id": 2}]) is None


async def test_commands_are_registered_per_language(
    application: Application,
    telegram_api: FakeTelegramAPI,  # type: ignore[type-arg]
) -> None:
    await register_commands(application.bot)

    calls = telegram_api.calls_to("setMyCommands")
    by_language = {
        (c.params.get("language_code"), c.params["scope"]["type"]): c.params["commands"]
        for c in calls
    }
    private_en = by_language[("en", "default")]
    names = [c["command"] for c in private_en]
    assert names == ["help", "mine", "edit", "pause", "resume", "language", "timezone", "stop"]
    assert [c["command"] for c in by_language[("nb", "all_group_chats")]] == ["link", "help"]
    assert private_en[0]["description"] == "What I can do"
    assert (None, "default") in by_language


async def test_group_sends_are_spread_to_stay_within_twenty_a_minute(
    telegram_api: FakeTelegramAPI,
) -> None:
    from bot.channels.telegram.application import build_application
    from tests.telegram.harness import telegram_settings

    telegram_api.per_group_per_minute = 20
    app = build_application(telegram_settings(telegram_api), polling=False, max_retries=0)
    message = OutMessage(text="Group prompt", locale="en")
    async with app:
        tg = TelegramChannel(app.bot, SECRET)
        await asyncio.gather(
            tg.send({"chat_id": -100777}, message),
            tg.send({"chat_id": -100777}, message),
            tg.send({"chat_id": 4242}, message),  # private chats are not held back
        )
    group = [c for c in telegram_api.calls_to("sendMessage") if c.params["chat_id"] == -100777]
    private = [c for c in telegram_api.calls_to("sendMessage") if c.params["chat_id"] == 4242]
    assert len(group) == 2 and len(private) == 1
    assert group[1].at - group[0].at >= 2.9  # one group message per 3 s: 20 a minute
    assert private[0].at - group[0].at < 1.0
