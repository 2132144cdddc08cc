"""Compose peer-round messages: the introduction, the "did you meet?" check, and the
coach's closing-the-loop message after a pulse round. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.compose import MEETING, Translator
from bot.core.messages import Button, OutMessage

# Action names travel inside signed button data; keep them short (64-byte limit).
MEETING_ANSWER = MEETING  # "{match_id}.{yes|no|planned}"
SKIP_NEXT = "pskip"  # sit out the next round of this match's series: "{match_id}"

MEETING_STATES = ("yes", "planned", "no")


@dataclass(frozen=True, slots=True)
class PeerContact:
    """Someone in the match, and how to reach them."""

    name: str
    unit: str = ""
    email: str = ""
    telegram: str | None = None


@dataclass(frozen=True, slots=True)
class IntroView:
    """What an introduction needs to know."""

    match_id: int
    locale: str
    others: tuple[PeerContact, ...]
    question: str | None = None
    follow_up_days: int = 7
    skipping_next: bool = False
    together: bool = False  # one message to the whole match, in a group conversation


def contact_line(tr: Translator, contact: PeerContact) -> str:
    """Return one person's name, unit and ways to reach them."""
    who = f"{contact.name} ({contact.unit})" if contact.unit else contact.name
    ways = [contact.email] if contact.email else []
    if contact.telegram:
        ways.append(f"Telegram @{contact.telegram.lstrip('@')}")
    return f"• {who}: {', '.join(ways)}" if ways else f"• {who}"


def intro_message(tr: Translator, view: IntroView) -> OutMessage:
    """Introduce the members of a match to one of them, with a question to talk about."""
    _ = tr.gettext
    heading = (
        _("This round the {count} of you are matched:").format(count=len(view.others))
        if view.together
        else tr.ngettext(
            "This round you are matched with:",
            "This round you are matched with these {count} leaders:",
            len(view.others),
        ).format(count=len(view.others))
    )
    lines = [
        heading,
        *(contact_line(tr, c) for c in view.others),
        "",
        _("Find half an hour to talk in the coming days. Whoever reads this first, reach out.")
        if not view.together
        else _("Find half an hour to talk in the coming days: agree on a time right here."),
    ]
    if view.question:
        lines += ["", _("A question to start with: {question}").format(question=view.question)]
    context = (_("In {days} days I will ask whether you met.").format(days=view.follow_up_days),)
    return OutMessage(
        text="\n".join(lines),
        locale=view.locale,
        title=_("Your peer conversation"),
        rows=(_skip_row(tr, view.match_id, view.skipping_next),),
        context=context,
        tag="peer_intro",
    )


def _skip_row(tr: Translator, match_id: int, skipping: bool) -> tuple[Button, ...]:
    _ = tr.gettext
    if skipping:
        label = _("You sit out the next round (tap to join again)")
        return (Button(label, SKIP_NEXT, f"{match_id}.join", "primary"),)
    return (Button(_("Sit out the next round"), SKIP_NEXT, f"{match_id}.skip"),)


def meeting_state_label(tr: Translator, state: str) -> str:
    """Name a "did you meet?" answer."""
    _ = tr.gettext
    labels = {"yes": _("Yes, we met"), "planned": _("Planned"), "no": _("No")}
    return labels[state]


def meeting_check(
    tr: Translator,
    match_id: int,
    locale: str,
    names: tuple[str, ...],
    chosen: str | None = None,
    skipping_next: bool = False,
) -> OutMessage:
    """Ask whether the match met; the chosen answer is marked and can be changed."""
    _ = tr.gettext
    text = _("Did you meet {names}?").format(names=", ".join(names))
    buttons = tuple(
        Button(
            meeting_state_label(tr, state),
            MEETING_ANSWER,
            f"{match_id}.{state}",
            "primary" if state == chosen else None,
        )
        for state in MEETING_STATES
    )
    context: tuple[str, ...] = ()
    if chosen is not None:
        context = (
            _("Thank you. Your answer: {answer}.").format(answer=meeting_state_label(tr, chosen)),
        )
    return OutMessage(
        text=text,
        locale=locale,
        title=_("Your peer conversation"),
        rows=(buttons, _skip_row(tr, match_id, skipping_next)),
        context=context,
        tag="meeting_check" if chosen is None else "meeting_answered",
    )


def closing_message(tr: Translator, locale: str, about: str, text: str) -> OutMessage:
    """Compose a coach's "what we heard, what we will do" message after a pulse round."""
    _ = tr.gettext
    return OutMessage(
        text=text,
        locale=locale,
        title=_("What we heard, what we will do"),
        context=(_("About the pulse: {about}").format(about=about),),
        tag="pulse_closing",
    )


def meeting_rate_line(
    tr: Translator, label: str, matches: int, met: int, planned: int, unanswered: int
) -> str:
    """Return one round's meeting rate for a coach."""
    _ = tr.gettext
    if not matches:
        return _("{label}: no matches").format(label=label)
    return _(
        "{label}: {met} of {matches} groups met ({percent} %), {planned} planned, "
        "{unanswered} members have not answered"
    ).format(
        label=label,
        met=met,
        matches=matches,
        percent=round(100 * met / matches),
        planned=planned,
        unanswered=unanswered,
    )
