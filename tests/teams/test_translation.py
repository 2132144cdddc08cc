"""The pure parts of the Teams channel: cards, activity translation, references, errors."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from microsoft_agents.activity import Activity
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from bot.channels.port import PermanentFailure, RateLimited, TemporaryFailure
from bot.channels.teams.cards import adaptive_card, needs_card
from bot.channels.teams.channel import translate_error
from bot.channels.teams.inbound import click_interaction, link_code, text_interaction
from bot.channels.teams.refs import make_ref, parse_ref
from bot.core import button_codec
from bot.core.messages import TAMPERED, Button, InteractionKind, OutMessage, TextRequest

SECRET = "unit-secret"
COMMANDS = frozenset({"help", "pause"})


def activity(conversation: str = "a:1", kind: str = "personal", **values: Any) -> Activity:
    return Activity.model_validate(
        {
            "type": "message",
            "id": "1712000000042",
            "serviceUrl": "http://127.0.0.1:1/",
            "channelId": "msteams",
            "from": {"id": "29:kari", "name": "Kari", "aadObjectId": "aad-kari"},
            "conversation": {"id": conversation, "conversationType": kind},
            "recipient": {"id": "28:bot"},
            **values,
        }
    )


def test_a_card_carries_signed_buttons_row_by_row_and_the_answer_form() -> None:
    message = OutMessage(
        text="How did it go?",
        title="A pause to think",
        context=("Programme 2027",),
        rows=((Button("Yes", "met", "7.yes", "primary"), Button("No", "met", "7.no", "danger")),),
        ask=TextRequest(
            "Your reflection", "ans", "7", "Save", visibilities=(("private", "Only me"),)
        ),
    )
    card = adaptive_card(SECRET, message)
    sets = [e for e in card["body"] if e["type"] == "ActionSet"]
    buttons, form = sets[0]["actions"], sets[1]["actions"]
    assert [(b["title"], b["style"]) for b in buttons] == [
        ("Yes", "positive"),
        ("No", "destructive"),
    ]
    assert button_codec.decode(SECRET, buttons[0]["data"]["tk"]) == ("met", "7.yes")
    assert form[0]["data"]["kind"] == "submit"
    assert card["fallbackText"].startswith("A pause to think\nHow did it go?")
    assert needs_card(message) and not needs_card(OutMessage("Paused."))


def test_a_submit_becomes_a_submit_with_text_and_visibility_and_a_forgery_tampered() -> None:
    data = {"tk": button_codec.encode(SECRET, "ans", "7"), "kind": "submit"}
    good = activity(value={**data, "answer": "Text", "visibility": "group"}, replyToId="m-1")
    interaction = click_interaction(SECRET, good, good.value)
    assert interaction is not None
    assert (interaction.kind, interaction.action, interaction.value) == (
        InteractionKind.SUBMIT,
        "ans",
        "7",
    )
    assert (interaction.text, interaction.fields, interaction.reply_to) == (
        "Text",
        {"visibility": "group"},
        "a:1|m-1",
    )
    assert (interaction.external_user, interaction.event_id) == ("aad-kari", "1712000000042")
    forged = activity(value={**data, "tk": data["tk"].replace("7", "8", 1)})
    tampered = click_interaction(SECRET, forged, forged.value)
    assert tampered is not None
    assert (tampered.kind, tampered.action) == (InteractionKind.BUTTON, TAMPERED)


@pytest.mark.parametrize(
    ("text", "kind", "command", "args"),
    [
        ("/pause 2w", InteractionKind.COMMAND, "pause", ("2w",)),
        ("help", InteractionKind.COMMAND, "help", ()),
        ("pause is what I needed", InteractionKind.TEXT, "", ()),
    ],
)
def test_typed_text_is_a_command_only_with_a_slash_or_as_a_lone_command_word(
    text: str, kind: InteractionKind, command: str, args: tuple[str, ...]
) -> None:
    interaction = text_interaction(activity(text=text), COMMANDS)
    assert interaction is not None
    assert (interaction.kind, interaction.command, interaction.args) == (kind, command, args)


def test_a_channel_thread_reply_points_at_the_post_it_hangs_under() -> None:
    thread = "19:abc@thread.tacv2;messageid=555"
    interaction = text_interaction(activity(thread, "channel", text="My answer"), COMMANDS)
    assert interaction is not None
    assert (interaction.reply_to, interaction.chat, interaction.is_group_chat) == (
        "19:abc@thread.tacv2|555",
        "19:abc@thread.tacv2",
        True,
    )
    assert link_code(activity(thread, "channel", text="link abc")) == "abc"
    assert link_code(activity(text="link abc")) is None  # not in a 1:1 chat


def test_references_round_trip_even_with_thread_ids() -> None:
    ref = make_ref("19:abc@thread.tacv2;messageid=1", "2")
    assert parse_ref(ref) == ("19:abc@thread.tacv2;messageid=1", "2")
    with pytest.raises(ValueError, match="not a Teams message reference"):
        parse_ref("nonsense")


def error(status: int, body: str = "", **headers: str) -> aiohttp.ClientResponseError:
    info = aiohttp.RequestInfo(URL("http://127.0.0.1/"), "POST", CIMultiDictProxy(CIMultiDict()))
    return aiohttp.ClientResponseError(
        info, (), status=status, message=body, headers=CIMultiDictProxy(CIMultiDict(headers))
    )


def test_connector_errors_map_to_the_ports_errors() -> None:
    limited = translate_error(error(429, **{"Retry-After": "12"}))
    assert isinstance(limited, RateLimited) and limited.retry_after == 12
    assert isinstance(translate_error(error(404, "Conversation not found")), PermanentFailure)
    installed = translate_error(error(400, '{"error": {"message": "App not installed"}}'))
    assert isinstance(installed, PermanentFailure)
    assert installed.reason == "teams 400: App not installed"
    assert isinstance(translate_error(error(503)), TemporaryFailure)
