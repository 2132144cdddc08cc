"""The `link CODE` command: in a group chat, a coach links the chat to a peer group.

The channel puts the chat's platform address in `fields["chat_address"]` (where group
prompts will be posted) and may put, in `fields["not_linked_text"]`, an untranslated
sentence saying how someone links their own account on that platform.
"""

from __future__ import annotations

from bot.handlers.context import Context, Reply
from bot.i18n import N_
from bot.services.group_links import LinkRefusal, link_group_chat

CHAT_ADDRESS = "chat_address"
NOT_LINKED_TEXT = "not_linked_text"
NOT_LINKED = N_("Only a linked coach can link this chat. Write to me in a 1:1 chat first.")

REFUSALS = {
    LinkRefusal.NOT_STAFF: N_("Only a coach can link a group chat to a peer group."),
    LinkRefusal.UNKNOWN_CODE: N_(
        "This code is not valid. Please ask your programme coordinator for a new one."
    ),
    LinkRefusal.USED_CODE: N_(
        "This code has already been used. Please ask your programme coordinator for a new one."
    ),
    LinkRefusal.EXPIRED_CODE: N_(
        "This code has expired. Please ask your programme coordinator for a new one."
    ),
}


async def link_chat(context: Context) -> list[Reply]:
    """Link the group chat the command came from to the peer group of the code."""
    _ = context._
    interaction = context.interaction
    if not interaction.is_group_chat or not interaction.chat:
        return _say(context, _("Write /link with your code in the group chat you want to link."))
    identity, person = context.identity, context.person
    if identity is None or person is None or identity.status != "active":
        return _say(context, _(str(interaction.fields.get(NOT_LINKED_TEXT) or NOT_LINKED)))
    outcome = await link_group_chat(
        context.session,
        person,
        interaction.platform,
        interaction.chat,
        dict(interaction.fields.get(CHAT_ADDRESS) or {}),
        interaction.args[0] if interaction.args else "",
        context.now,
    )
    if outcome.refusal is not None or outcome.group is None:
        return _say(context, _(REFUSALS[outcome.refusal or LinkRefusal.UNKNOWN_CODE]))
    group = outcome.group
    return _say(
        context,
        _(
            "This chat is now linked to the peer group {group}. Group prompts will be "
            "posted here, and answers given here are visible to the group and its coach."
        ).format(group=group.title or group.name),
    )


def _say(context: Context, text: str) -> list[Reply]:
    return context.say(text, tag="group_link")
