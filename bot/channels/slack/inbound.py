"""Translate Slack payloads (events, actions, view submissions, commands) into Interactions.

Pure functions over the JSON bolt hands us; no I/O, so each can be tested on its own.
`team` is given only with several workspaces, where it is part of our message references.
"""

from __future__ import annotations

import json
from typing import Any

from bot.channels.slack.blocks import (
    ANSWER_BLOCK,
    ANSWER_INPUT,
    HOME_ASK_BLOCK_PREFIX,
    HOME_ASK_INPUT,
    VISIBILITY_BLOCK,
    VISIBILITY_INPUT,
)
from bot.channels.slack.channel import make_ref
from bot.core import button_codec
from bot.core.messages import TAMPERED, Interaction, InteractionKind

PLATFORM = "slack"
# Plain user messages; anything else (joins, bot posts, deletions) is not for us.
USER_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})


def is_direct(channel: str | None) -> bool:
    """Tell whether a Slack conversation id is a one-to-one DM."""
    return bool(channel) and str(channel).startswith("D")


def body_team(body: dict[str, Any]) -> str | None:
    """Return the workspace a request comes from (events, actions, views and commands)."""
    team = body.get("team_id") or (body.get("team") or {}).get("id")
    team = team or (body.get("user") or {}).get("team_id")
    return str(team) if team else None


def decode_button(secret: str, data: str) -> tuple[str, str]:
    """Return (action, value) of signed button data, or (TAMPERED, "") if it was altered."""
    try:
        return button_codec.decode(secret, data)
    except button_codec.TamperedButton:
        return TAMPERED, ""


def message_interaction(
    event: dict[str, Any], event_id: str | None, team: str | None = None
) -> Interaction | None:
    """Translate a `message` event: a DM, a thread reply, or an edit of one."""
    if event.get("subtype") == "message_changed":
        return _edit_interaction(event, event_id, team)
    if event.get("bot_id") or event.get("subtype") not in USER_SUBTYPES or not event.get("user"):
        return None
    channel = str(event["channel"])
    ts = str(event.get("ts", ""))
    thread_ts = event.get("thread_ts")
    reply_to = make_ref(channel, str(thread_ts), team) if thread_ts and thread_ts != ts else None
    return Interaction(
        platform=PLATFORM,
        external_user=str(event["user"]),
        kind=InteractionKind.TEXT,
        text=str(event.get("text") or ""),
        reply_to=reply_to,
        chat=channel,
        is_group_chat=not is_direct(channel),
        event_id=event_id,
        fields={"message_ref": make_ref(channel, ts, team)},
    )


def _edit_interaction(
    event: dict[str, Any], event_id: str | None, team: str | None
) -> Interaction | None:
    message = event.get("message") or {}
    if message.get("bot_id") or not message.get("user"):
        return None
    channel = str(event["channel"])
    return Interaction(
        platform=PLATFORM,
        external_user=str(message["user"]),
        kind=InteractionKind.EDIT,
        text=str(message.get("text") or ""),
        chat=channel,
        is_group_chat=not is_direct(channel),
        event_id=event_id,
        fields={"message_ref": make_ref(channel, str(message.get("ts", "")), team)},
    )


def container_ref(body: dict[str, Any], team: str | None = None) -> str | None:
    """Return the reference of the message a click came from, if it came from a message."""
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    ts = container.get("message_ts")
    return make_ref(str(channel), str(ts), team) if channel and ts else None


def action_interaction(
    secret: str, body: dict[str, Any], action: dict[str, Any], team: str | None = None
) -> Interaction:
    """Translate one clicked button (in a message or in the App Home)."""
    user = str(body["user"]["id"])
    name, value = decode_button(secret, str(action.get("value") or ""))
    channel = (body.get("container") or {}).get("channel_id") or (body.get("channel") or {}).get(
        "id"
    )
    ref = container_ref(body, team)
    return Interaction(
        platform=PLATFORM,
        external_user=user,
        kind=InteractionKind.BUTTON,
        action=name,
        value=value,
        reply_to=ref,
        chat=str(channel) if channel else None,
        is_group_chat=bool(channel) and not is_direct(channel),
        event_id=f"{action.get('action_ts')}:{user}:{action.get('action_id')}",
        fields={"surface": (body.get("container") or {}).get("type", "message")},
    )


def submission_interaction(secret: str, body: dict[str, Any], view: dict[str, Any]) -> Interaction:
    """Translate a submitted answer modal; its private metadata carries the signed button."""
    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        metadata = {}
    name, value = decode_button(secret, str(metadata.get("d") or ""))
    values = (view.get("state") or {}).get("values") or {}
    text = ((values.get(ANSWER_BLOCK) or {}).get(ANSWER_INPUT) or {}).get("value") or ""
    fields: dict[str, Any] = {}
    choice = (values.get(VISIBILITY_BLOCK) or {}).get(VISIBILITY_INPUT) or {}
    if choice.get("selected_option"):
        fields["visibility"] = str(choice["selected_option"]["value"])
    channel = metadata.get("c")
    return Interaction(
        platform=PLATFORM,
        external_user=str(body["user"]["id"]),
        kind=InteractionKind.SUBMIT,
        text=str(text),
        action=name,
        value=value,
        reply_to=metadata.get("r"),
        chat=channel,
        is_group_chat=bool(channel) and not is_direct(channel),
        event_id=f"view:{view.get('id')}:{view.get('hash')}",
        fields=fields,
    )


def home_ask_interaction(secret: str, body: dict[str, Any], action: dict[str, Any]) -> Interaction:
    """Translate Save (or Enter) on an inline App Home input into a SUBMIT of its text."""
    user = str(body["user"]["id"])
    if action.get("action_id") == HOME_ASK_INPUT:  # Enter pressed: the input itself dispatched
        data = str(action.get("block_id") or "").removeprefix(HOME_ASK_BLOCK_PREFIX)
        text = action.get("value") or ""
    else:  # the Save button: its value names the input block whose text to take
        data = str(action.get("value") or "")
        values = ((body.get("view") or {}).get("state") or {}).get("values") or {}
        typed = (values.get(HOME_ASK_BLOCK_PREFIX + data) or {}).get(HOME_ASK_INPUT) or {}
        text = typed.get("value") or ""
    name, value = decode_button(secret, data)
    return Interaction(
        platform=PLATFORM,
        external_user=user,
        kind=InteractionKind.SUBMIT,
        text=str(text),
        action=name,
        value=value,
        event_id=f"{action.get('action_ts')}:{user}:{action.get('action_id')}",
        fields={"surface": "home"},
    )


def command_interaction(command: dict[str, Any]) -> Interaction:
    """Translate `/tenkepause WORD ARGS…` into a COMMAND (no words means `help`)."""
    words = str(command.get("text") or "").split()
    name = words[0].lower() if words else "help"
    channel = str(command.get("channel_id") or "")
    return Interaction(
        platform=PLATFORM,
        external_user=str(command["user_id"]),
        kind=InteractionKind.COMMAND,
        command=name,
        args=tuple(words[1:]),
        chat=channel or None,
        is_group_chat=bool(channel) and not is_direct(channel),
        event_id=f"command:{command.get('trigger_id')}",
    )


def home_interaction(event: dict[str, Any], event_id: str | None) -> Interaction:
    """Ask the router for the App Home content of the user who opened it."""
    return Interaction(
        platform=PLATFORM,
        external_user=str(event["user"]),
        kind=InteractionKind.COMMAND,
        command="home",
        chat=event.get("channel"),
        event_id=event_id,
    )
