"""Translate Teams activities into Interactions. Pure: no I/O beyond reading the activity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from microsoft_agents.activity import Activity

from bot.channels.teams import PLATFORM
from bot.channels.teams.cards import ANSWER_INPUT, KIND, TOKEN, VISIBILITY_INPUT
from bot.channels.teams.refs import base_conversation, make_ref, thread_root
from bot.core import button_codec
from bot.core.messages import TAMPERED, Interaction, InteractionKind
from bot.handlers.group_link import CHAT_ADDRESS

MAX_TEXT = 4000
LINK_COMMAND = "link"


@dataclass(frozen=True, slots=True)
class Speaker:
    """Who sent an activity: the stable AAD id we key identities on, and the Teams user id."""

    external_id: str
    user_id: str
    name: str


def speaker(activity: Activity) -> Speaker | None:
    """Return the sender, or None for activities without one."""
    sender = activity.from_property
    if sender is None or not sender.id:
        return None
    return Speaker(sender.aad_object_id or sender.id, sender.id, sender.name or "")


def is_group(activity: Activity) -> bool:
    """Tell whether the activity comes from a group chat or channel rather than a 1:1 chat."""
    conversation = activity.conversation
    if conversation is None:
        return False
    kind = conversation.conversation_type
    return bool(conversation.is_group) or (kind is not None and kind != "personal")


def card_data(activity: Activity) -> dict[str, Any] | None:
    """Return the Action.Submit data of a card click, or None if this is no card click."""
    value = activity.value
    return value if isinstance(value, dict) and TOKEN in value else None


def reply_ref(activity: Activity) -> str | None:
    """Return our reference of the message this activity answers, if any."""
    assert activity.conversation is not None
    conversation = str(activity.conversation.id)
    replied = activity.reply_to_id or thread_root(conversation)
    return make_ref(base_conversation(conversation), replied) if replied else None


def _common(activity: Activity, who: Speaker) -> dict[str, Any]:
    assert activity.conversation is not None
    return {
        "platform": PLATFORM,
        "external_user": who.external_id,
        "reply_to": reply_ref(activity),
        "chat": base_conversation(str(activity.conversation.id)),
        "is_group_chat": is_group(activity),
        "event_id": activity.id or None,
    }


def click_interaction(secret: str, activity: Activity, data: dict[str, Any]) -> Interaction | None:
    """Translate a card click or form submit; altered button data becomes TAMPERED."""
    who = speaker(activity)
    if who is None:
        return None
    try:
        action, value = button_codec.decode(secret, str(data.get(TOKEN, "")))
    except button_codec.TamperedButton:
        action, value = TAMPERED, ""
    submit = data.get(KIND) == "submit" and action != TAMPERED
    fields: dict[str, Any] = {}
    if submit and data.get(VISIBILITY_INPUT):
        fields["visibility"] = str(data[VISIBILITY_INPUT])
    return Interaction(
        kind=InteractionKind.SUBMIT if submit else InteractionKind.BUTTON,
        action=action,
        value=value,
        text=str(data.get(ANSWER_INPUT) or "")[:MAX_TEXT] if submit else "",
        fields=fields,
        **_common(activity, who),
    )


def words(activity: Activity) -> list[str]:
    """Return the words of a message (mentions of the bot are already removed by the SDK)."""
    return str(activity.text or "").split()


def link_code(activity: Activity) -> str | None:
    """Return the code of a `link CODE` message in a group chat or channel, else None."""
    parts = words(activity)
    if is_group(activity) and parts and parts[0].lstrip("/").lower() == LINK_COMMAND:
        return parts[1] if len(parts) > 1 else ""
    return None


def link_interaction(
    activity: Activity, code: str, chat_address: dict[str, Any]
) -> Interaction | None:
    """Translate `link CODE` into the router's `link` command for this chat."""
    who = speaker(activity)
    if who is None:
        return None
    return Interaction(
        kind=InteractionKind.COMMAND,
        command=LINK_COMMAND,
        args=(code,) if code else (),
        fields={CHAT_ADDRESS: chat_address},
        **_common(activity, who),
    )


def text_interaction(activity: Activity, commands: frozenset[str]) -> Interaction | None:
    """Translate a typed message: `/word args` or a lone command word, else a text answer."""
    who = speaker(activity)
    if who is None:
        return None
    text = str(activity.text or "").strip()
    parts = text.split()
    common = _common(activity, who)
    if parts:
        first = parts[0]
        name = first.lstrip("/").lower()
        if first.startswith("/") or (len(parts) == 1 and name in commands):
            return Interaction(
                kind=InteractionKind.COMMAND,
                command=name or "help",
                args=tuple(parts[1:]),
                **common,
            )
    assert activity.conversation is not None
    fields = {"message_ref": make_ref(str(activity.conversation.id), str(activity.id or ""))}
    return Interaction(kind=InteractionKind.TEXT, text=text[:MAX_TEXT], fields=fields, **common)
