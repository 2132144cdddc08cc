"""The outbound Slack channel against the fake Web API."""

from __future__ import annotations

import json

import pytest

from bot.channels.port import PermanentFailure, RateLimited, TemporaryFailure
from bot.channels.slack.blocks import ANSWER_ACTION, AskSpec
from bot.channels.slack.channel import SlackChannel
from bot.core import button_codec
from bot.core.messages import Button, OutMessage, TextRequest
from tests.fakes.slack_api import FakeSlackApi
from tests.slack.conftest import SECRET

PULSE = OutMessage(
    text="How was your week?",
    locale="en",
    title="Pulse",
    context=("Anonymous: your answer is stored without your name.",),
    rows=((Button("1", "pls", "7:1"), Button("2", "pls", "7:2", style="primary")),),
)


def _buttons(blocks: list[dict[str, object]]) -> list[dict[str, object]]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]  # type: ignore[union-attr]


async def test_send_to_a_user_opens_a_dm_and_posts_blocks_with_signed_buttons(
    slack_api: FakeSlackApi, slack_channel: SlackChannel
) -> None:
    slack_api.add_user("U1", "ada@example.org")

    ref = await slack_channel.send({"user": "U1"}, PULSE)

    assert slack_api.methods() == ["conversations.open", "chat.postMessage"]
    assert slack_api.calls_to("conversations.open")[0]["users"] == "U1"
    post = slack_api.calls_to("chat.postMessage")[0]
    channel, ts = ref.split(":", 1)
    assert channel == post["channel"] == "D1"
    assert slack_api.messages[(channel, ts)]["blocks"] == post["blocks"]
    assert post["text"] == PULSE.as_plain_text()
    types = [b["type"] for b in post["blocks"]]
    assert types == ["header", "section", "context", "actions"]
    decoded = [button_codec.decode(SECRET, b["value"]) for b in _buttons(post["blocks"])]
    assert decoded == [("pls", "7:1"), ("pls", "7:2")]
    assert _buttons(post["blocks"])[1]["style"] == "primary"
    assert slack_api.calls[0].token == "xoxb-test-token"


async def test_send_to_a_known_channel_skips_conversations_open(
    slack_api: FakeSlackApi, slack_channel: SlackChannel
) -> None:
    slack_api.add_channel("D42")
    ref = await slack_channel.send({"user": "U42", "channel": "D42"}, PULSE)
    assert slack_api.methods() == ["chat.postMessage"]
    assert ref.startswith("D42:")


@pytest.mark.parametrize(("locale", "label"), [("en", "Answer"), ("nb", "Svar"), ("nn", "Svar")])
async def test_a_text_request_renders_as_an_answer_button_carrying_the_modal(
    slack_api: FakeSlackApi, slack_channel: SlackChannel, locale: str, label: str
) -> None:
    slack_api.add_user("U1", "ada@example.org")
    ask = TextRequest(
        label="Your reflection",
        action="ans",
        value="17",
        submit_label="Save",
        visibilities=(("private", "Only me"), ("coach", "Me and my coach")),
        default_visibility="coach",
    )
    await slack_channel.send({"user": "U1"}, OutMessage("What did you learn?", locale, ask=ask))

    button = _buttons(slack_api.calls_to("chat.postMessage")[0]["blocks"])[-1]
    assert button["action_id"] == ANSWER_ACTION
    assert button["text"]["text"] == label  # type: ignore[index]
    spec = AskSpec.from_value(str(button["value"]))
    assert button_codec.decode(SECRET, spec.data) == ("ans", "17")
    assert spec.visibilities == ask.visibilities and spec.default_visibility == "coach"


async def test_update_replaces_the_referenced_message(
    slack_api: FakeSlackApi, slack_channel: SlackChannel
) -> None:
    slack_api.add_user("U1", "ada@example.org")
    ref = await slack_channel.send({"user": "U1"}, PULSE)
    await slack_channel.update(ref, OutMessage("You chose 2.", "en"))
    update = slack_api.calls_to("chat.update")[0]
    assert f"{update['channel']}:{update['ts']}" == ref
    assert update["text"] == "You chose 2."
    assert slack_api.messages[(update["channel"], update["ts"])]["text"] == "You chose 2."


async def test_open_group_opens_one_conversation_for_all_users(
    slack_api: FakeSlackApi, slack_channel: SlackChannel
) -> None:
    for user in ("U1", "U2", "U3"):
        slack_api.add_user(user, f"{user}@example.org")
    address = await slack_channel.open_group([{"user": "U2"}, {"user": "U1"}, {"user": "U3"}])
    assert slack_api.calls_to("conversations.open")[0]["users"] == "U1,U2,U3"
    assert address is not None and str(address["channel"]).startswith("G")


async def test_one_429_is_waited_out_by_the_sdk(
    slack_api: FakeSlackApi, slack_channel: SlackChannel
) -> None:
    slack_api.add_channel("D1")
    slack_api.rate_limit("chat.postMessage", retry_after=0)
    ref = await slack_channel.send({"channel": "D1"}, PULSE)
    assert ref.startswith("D1:")
    assert slack_api.methods() == ["chat.postMessage", "chat.postMessage"]


async def test_repeated_429_becomes_rate_limited_with_retry_after(
    slack_api: FakeSlackApi, slack_channel: SlackChannel
) -> None:
    slack_api.add_channel("D1")
    slack_api.rate_limit("chat.postMessage", retry_after=0, times=2)
    slack_api.rate_limit("chat.update", retry_after=0, times=2)
    with pytest.raises(RateLimited) as raised:
        await slack_channel.send({"channel": "D1"}, PULSE)
    assert raised.value.retry_after == 0
    slack_api.failures.clear()
    slack_api.fail("chat.postMessage", status=429, error="ratelimited", retry_after=30, times=2)
    slack_channel.client.retry_handlers = []
    with pytest.raises(RateLimited) as raised:
        await slack_channel.send({"channel": "D1"}, PULSE)
    assert raised.value.retry_after == 30


@pytest.mark.parametrize(
    "error",
    ["account_inactive", "user_not_found", "channel_not_found", "not_in_channel", "is_archived"],
)
async def test_unreachable_recipients_are_permanent_failures(
    slack_api: FakeSlackApi, slack_channel: SlackChannel, error: str
) -> None:
    slack_api.add_channel("D1")
    slack_api.fail("chat.postMessage", error=error)
    with pytest.raises(PermanentFailure) as raised:
        await slack_channel.send({"channel": "D1"}, PULSE)
    assert raised.value.reason == error


async def test_a_deactivated_user_fails_permanently_when_opening_the_dm(
    slack_api: FakeSlackApi, slack_channel: SlackChannel
) -> None:
    slack_api.add_user("U9", "gone@example.org", deleted=True)
    with pytest.raises(PermanentFailure, match="account_inactive"):
        await slack_channel.send({"user": "U9"}, PULSE)


async def test_server_errors_are_temporary(
    slack_api: FakeSlackApi, slack_channel: SlackChannel
) -> None:
    slack_api.add_channel("D1")
    slack_api.fail("chat.postMessage", status=503)
    with pytest.raises(TemporaryFailure):
        await slack_channel.send({"channel": "D1"}, PULSE)


async def test_long_text_is_split_into_sections_within_slacks_limit(
    slack_api: FakeSlackApi, slack_channel: SlackChannel
) -> None:
    slack_api.add_channel("D1")
    text = "\n".join(f"line {n} " + "x" * 90 for n in range(80))
    await slack_channel.send({"channel": "D1"}, OutMessage(text, "en"))
    sections = slack_api.calls_to("chat.postMessage")[0]["blocks"]
    assert len(sections) > 1
    assert all(len(s["text"]["text"]) <= 3000 for s in sections)
    assert "\n".join(s["text"]["text"] for s in sections) == text
    assert json.dumps(sections)  # serialisable as sent
