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
UNDO = "undo"
AWAIT = "awt"

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


def form_value(delivery_id: int, offered: str | None) -> str:
    """Return a form's signed value: the delivery and the visibility the form preselects."""
    return f"{delivery_id}.{offered}" if offered else str(delivery_id)


def read_form_value(value: str) -> tuple[int | None, str | None]:
    """Return (delivery id, preselected visibility) of a form value; None for what is absent."""
    head, _, offered = value.partition(".")
    known = offered if offered in {v.value for v in Visibility} else None
    return (int(head) if head.isdigit() else None), known


def quoted(text: str, limit: int = 120) -> str:
    """Quote a person's text, shortened to `limit` characters."""
    flat = " ".join(text.split())
    return "«" + (flat if len(flat) <= limit else flat[: limit - 1] + "…") + "»"


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
    default = Visibility.GROUP.value if view.group else view.default_visibility
    ask = TextRequest(
        label=_("Your reflection"),
        action=ANSWER,
        value=form_value(view.delivery_id, None if view.group else default),
        submit_label=_("Save"),
        visibilities=visibilities,
        default_visibility=default,
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
    tr: Translator,
    view: PromptView,
    visibility: str,
    has_follow_up_answer: bool = False,
    follow_up_visibility: str | None = None,
) -> OutMessage:
    """Compose the prompt as it looks once answered: the stored visibilities, Edit, follow-up."""
    _ = tr.gettext
    status = [_("Answered. Visible to: {who}.").format(who=visibility_label(tr, visibility))]
    if follow_up_visibility is not None:
        who = visibility_label(tr, follow_up_visibility)
        status.append(_("Follow-up visible to: {who}.").format(who=who))
    buttons = [Button(_("Edit"), EDIT, str(view.delivery_id))]
    if view.follow_up and not has_follow_up_answer:
        buttons.append(Button(_("Go one step further"), FOLLOW_UP, str(view.delivery_id)))
    return OutMessage(
        text=view.question,
        locale=view.locale,
        title=_("A pause to think"),
        context=tuple(status),
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
        value=form_value(view.delivery_id, None if view.group else visibility),
        submit_label=_("Save"),
        initial_text=current_text,
        visibilities=() if view.group else visibility_choices(tr),
        default_visibility=visibility,
        max_length=MAX_ANSWER_LENGTH,
    )


def follow_up_message(
    tr: Translator, view: PromptView, visibility: str | None = None
) -> OutMessage:
    """Compose the deepening follow-up question, preselecting `visibility` (the parent's)."""
    _ = tr.gettext
    assert view.follow_up is not None
    default = visibility or view.default_visibility
    return OutMessage(
        text=view.follow_up,
        locale=view.locale,
        title=_("One step further"),
        ask=TextRequest(
            label=_("Your reflection"),
            action=FOLLOW_UP,
            value=form_value(view.delivery_id, None if view.group else default),
            submit_label=_("Save"),
            visibilities=() if view.group else visibility_choices(tr),
            default_visibility=default,
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


def edited_message(
    tr: Translator,
    answer_id: int,
    before: str,
    after: str,
    visibility: str,
    locale: str,
    undo_minutes: int,
) -> OutMessage:
    """Show an edit before and after, who can read it, and how to undo it."""
    _ = tr.gettext
    lines = [
        _("Your reflection is changed."),
        _("Before: {text}").format(text=quoted(before, 400)),
        _("Now: {text}").format(text=quoted(after, 400)),
        _("Visible to: {who}.").format(who=visibility_label(tr, visibility)),
    ]
    hint = _("Write “undo” within {minutes} minutes to get the old version back.")
    undo = Button(_("Undo"), UNDO, str(answer_id))
    return OutMessage(
        text="\n".join(lines),
        locale=locale,
        context=(hint.format(minutes=undo_minutes),),
        rows=((undo,),),
        tag="edited",
    )


def goes_to(tr: Translator, question: str) -> str:
    """Say which question the person's next free text answers."""
    return tr.gettext("Your answer goes to: {target}").format(target=quoted(question))


def menu_message(
    tr: Translator,
    locale: str,
    *,
    coach: bool,
    expired: bool,
    open_question: tuple[int, str] | None = None,
) -> OutMessage:
    """Say that nothing waits for text, so nothing was saved, and what the person can do."""
    _ = tr.gettext
    if expired:
        first = _(
            "The question you were answering has waited too long, so I did not save what you wrote."
        )
    else:
        first = _(
            "I am not waiting for an answer from you right now, so I did not save what you wrote."
        )
    lines = [first, _("You can write: help · pause · resume · language · my answers · stop")]
    if coach:
        lines.append(_("For coaches: dashboard"))
    rows: tuple[tuple[Button, ...], ...] = ()
    if open_question is not None:
        delivery_id, question = open_question
        label = _("Answer: {question}").format(question=quoted(question, 60))
        rows = ((Button(label, AWAIT, str(delivery_id), "primary"),),)
    return OutMessage(text="\n".join(lines), locale=locale, rows=rows, tag="menu")


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
