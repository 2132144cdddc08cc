"""Compose the bot's messages. Pure: the caller passes in texts and a translator."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.core.messages import Button, OutMessage, TextRequest
from bot.core.vocabulary import Visibility


class Translator(Protocol):
    """The part of gettext's translations the composer needs."""

    def gettext(self, message: str, /) -> str:
        """Translate one message."""
        ...

    def ngettext(self, singular: str, plural: str, n: int, /) -> str:
        """Translate a message with a plural form."""
        ...


# Action names travel inside signed button data; keep them short (64-byte limit).
ANSWER = "ans"
FOLLOW_UP = "fup"
EDIT = "edit"
VISIBILITY = "vis"
PULSE = "pls"
MEETING = "met"

MAX_ANSWER_LENGTH = 4000


def visibility_label(tr: Translator, visibility: str) -> str:
    """Name who can read an answer with this visibility."""
    _ = tr.gettext
    labels = {
        Visibility.PRIVATE: _("Only me"),
        Visibility.COACH: _("Me and my coach"),
        Visibility.GROUP: _("My peer group and coach"),
    }
    return labels[Visibility(visibility)]


def visibility_choices(tr: Translator) -> tuple[tuple[str, str], ...]:
    """Return (value, label) for every visibility, most private first."""
    return tuple((v.value, visibility_label(tr, v)) for v in Visibility)


@dataclass(frozen=True, slots=True)
class PromptView:
    """What a reflection prompt message needs to know."""

    delivery_id: int
    question: str
    locale: str
    default_visibility: str
    follow_up: str | None = None
    reminder: bool = False
    group: bool = False
    campaign_title: str | None = None


def prompt_message(tr: Translator, view: PromptView) -> OutMessage:
    """Compose a reflection prompt that asks for a free-text answer."""
    _ = tr.gettext
    title = _("A pause to think") if not view.reminder else _("A gentle reminder")
    context = [view.campaign_title] if view.campaign_title else []
    if view.group:
        context.append(_("Answers here are visible to your peer group and coach."))
    visibilities = () if view.group else visibility_choices(tr)
    ask = TextRequest(
        label=_("Your reflection"),
        action=ANSWER,
        value=str(view.delivery_id),
        submit_label=_("Save"),
        visibilities=visibilities,
        default_visibility=Visibility.GROUP.value if view.group else view.default_visibility,
        max_length=MAX_ANSWER_LENGTH,
    )
    return OutMessage(
        text=view.question,
        locale=view.locale,
        title=title,
        ask=ask,
        context=tuple(context),
        tag="reminder" if view.reminder else ("group_prompt" if view.group else "prompt"),
    )


def answered_message(
    tr: Translator, view: PromptView, visibility: str, has_follow_up_answer: bool = False
) -> OutMessage:
    """Compose the prompt message as it looks once answered: status, Edit and follow-up."""
    _ = tr.gettext
    status = _("Answered. Visible to: {who}.").format(who=visibility_label(tr, visibility))
    buttons = [Button(_("Edit"), EDIT, str(view.delivery_id))]
    if view.follow_up and not has_follow_up_answer:
        buttons.append(Button(_("Go one step further"), FOLLOW_UP, str(view.delivery_id)))
    return OutMessage(
        text=view.question,
        locale=view.locale,
        title=_("A pause to think"),
        context=(status,),
        rows=(tuple(buttons),),
        tag="answered",
    )


def edit_request(
    tr: Translator, view: PromptView, current_text: str, visibility: str
) -> TextRequest:
    """Ask for a new version of an existing answer, prefilled with the old one."""
    _ = tr.gettext
    return TextRequest(
        label=_("Edit your reflection"),
        action=ANSWER,
        value=str(view.delivery_id),
        submit_label=_("Save"),
        initial_text=current_text,
        visibilities=() if view.group else visibility_choices(tr),
        default_visibility=visibility,
        max_length=MAX_ANSWER_LENGTH,
    )


def follow_up_message(tr: Translator, view: PromptView) -> OutMessage:
    """Compose the deepening follow-up question for an answered prompt."""
    _ = tr.gettext
    assert view.follow_up is not None
    return OutMessage(
        text=view.follow_up,
        locale=view.locale,
        title=_("One step further"),
        ask=TextRequest(
            label=_("Your reflection"),
            action=FOLLOW_UP,
            value=str(view.delivery_id),
            submit_label=_("Save"),
            visibilities=() if view.group else visibility_choices(tr),
            default_visibility=view.default_visibility,
            max_length=MAX_ANSWER_LENGTH,
        ),
        tag="follow_up",
    )


def saved_message(tr: Translator, answer_id: int, visibility: str, locale: str) -> OutMessage:
    """Confirm a saved answer and offer to change who can see it."""
    _ = tr.gettext
    text = _("Thank you, your reflection is saved. Visible to: {who}.").format(
        who=visibility_label(tr, visibility)
    )
    buttons = tuple(
        Button(
            label, VISIBILITY, f"{answer_id}.{value}", "primary" if value == visibility else None
        )
        for value, label in visibility_choices(tr)
    )
    return OutMessage(text=text, locale=locale, rows=(buttons,), tag="saved")


def notice(text: str, locale: str, tag: str = "notice") -> OutMessage:
    """Wrap a plain sentence as a message."""
    return OutMessage(text=text, locale=locale, tag=tag)


def reflections_list(
    tr: Translator, locale: str, entries: Sequence[tuple[str, str, str]]
) -> OutMessage:
    """List a leader's last reflections as (date, question, visibility) lines, no answer text."""
    _ = tr.gettext
    if not entries:
        return notice(_("You have no saved reflections yet."), locale, "mine")
    lines = [_("Your last reflections:")]
    lines += [
        f"• {day}: {question} ({visibility_label(tr, vis)})" for day, question, vis in entries
    ]
    return OutMessage(text="\n".join(lines), locale=locale, tag="mine")
