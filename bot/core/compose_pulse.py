"""Compose pulse messages: the answer card, and the results a coach reads. Pure.

A pulse round reaches each leader as one card (one chat message). The card shows one
item at a time with its answer buttons; answering moves on to the next unanswered item,
and "Previous"/"Next" move freely, so the card keeps to one message that every platform
can update in place. In a named survey the chosen value is marked (style "primary") and
listed under "Your answers"; in an anonymous one the card only says which items are
registered, never the value, because the card is a message that chat stores keep under the
person. Answers stay changeable while the round is open.

Button values are compact, because the signed button data must fit 64 bytes:
``{delivery_id}.{item_position}.{value}``, where value is the number for Likert and scale
items and the option's index for choice items.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.core.anonymity import Withheld, WithheldReason
from bot.core.compose import Translator
from bot.core.messages import Button, OutMessage, TextRequest
from bot.core.pulse_results import ItemReport, ItemResult, Shown, TrendPoint
from bot.core.pulse_values import DEFAULT_MAX_TEXT_LENGTH, LIKERT_RANGE, SCALE_RANGE
from bot.core.vocabulary import PulseItemKind

# Action names travel inside signed button data; keep them short (64-byte limit).
PULSE_VALUE = "pv"  # choose a value: "{delivery}.{position}.{value}"
PULSE_TEXT = "pt"  # submit free text: "{delivery}.{position}"
PULSE_GOTO = "pg"  # show another item: "{delivery}.{position}"
PULSE_DONE = "pd"  # done with a multiple-choice item: "{delivery}.{position}"

PRIMARY = "primary"
SCALE_ROWS = ((0, 5), (6, 10))  # 0-10 in two rows, so phones show whole buttons


@dataclass(frozen=True, slots=True)
class ItemView:
    """One pulse item as the card shows it."""

    position: int
    kind: PulseItemKind
    text: str
    options: tuple[str, ...] = ()  # option labels, in the item's order


@dataclass(frozen=True, slots=True)
class Chosen:
    """The leader's current answer to one item."""

    number: int | None = None
    choices: tuple[int, ...] = ()  # option indexes
    text_saved: bool = False


@dataclass(frozen=True, slots=True)
class PulseView:
    """What a pulse card needs to know."""

    delivery_id: int
    locale: str
    title: str
    items: tuple[ItemView, ...]
    current: int  # index into items
    answers: Mapping[int, Chosen] = field(default_factory=dict)  # by item position
    anonymous: bool = True
    is_open: bool = True
    closes_on: str | None = None
    reminder: bool = False
    notice: str | None = None
    max_text_length: int = DEFAULT_MAX_TEXT_LENGTH
    min_responses: int = 5  # the survey's anonymity threshold, quoted by the notice


@dataclass(frozen=True, slots=True)
class ButtonRef:
    """A decoded pulse button or form value."""

    delivery_id: int
    position: int
    value: str = ""


def item_ref(delivery_id: int, position: int, value: str | int | None = None) -> str:
    """Return the compact button value for an item (and a chosen value)."""
    base = f"{delivery_id}.{position}"
    return base if value is None else f"{base}.{value}"


def parse_ref(value: str, *, with_value: bool) -> ButtonRef | None:
    """Read a button value made by `item_ref`; None when it is not one."""
    parts = value.split(".", 2)
    if len(parts) != (3 if with_value else 2):
        return None
    delivery, position = parts[0], parts[1]
    if not delivery.isdigit() or not position.lstrip("-").isdigit():
        return None
    return ButtonRef(int(delivery), int(position), parts[2] if with_value else "")


def likert_label(tr: Translator, number: int) -> str:
    """Label a Likert value with its number and a short word."""
    _ = tr.gettext
    words = {
        1: _("Strongly disagree"),
        2: _("Disagree"),
        3: _("Neutral"),
        4: _("Agree"),
        5: _("Strongly agree"),
    }
    return f"{number} {words[number]}"


def pulse_message(tr: Translator, view: PulseView) -> OutMessage:
    """Compose the card for the item at `view.current`, with the leader's choice marked."""
    _ = tr.gettext
    item = view.items[view.current]
    context = []
    if len(view.items) > 1:
        context.append(
            _("Question {number} of {count}").format(number=view.current + 1, count=len(view.items))
        )
    if view.anonymous:
        context.append(anonymity_notice(tr, view.min_responses))
    summary = answers_line(tr, view)
    if summary:
        context.append(summary)
    if view.notice:
        context.append(view.notice)
    title = _("Reminder: {title}").format(title=view.title) if view.reminder else view.title
    if not view.is_open:
        context.append(_("This round is closed; answers can no longer be changed."))
        return OutMessage(
            item.text, view.locale, title=title, context=tuple(context), tag="pulse_closed"
        )
    if view.closes_on:
        context.append(_("You can change your answers until {day}.").format(day=view.closes_on))
    rows = [*_answer_rows(tr, view, item), *_navigation(tr, view)]
    ask = _text_request(tr, view, item) if item.kind is PulseItemKind.TEXT else None
    return OutMessage(
        text=item.text,
        locale=view.locale,
        rows=tuple(row for row in rows if row),
        ask=ask,
        context=tuple(context),
        title=title,
        tag="pulse_reminder" if view.reminder else "pulse",
    )


def anonymity_notice(tr: Translator, min_responses: int) -> str:
    """Say what anonymity promises, exactly as docs/privacy.md guarantees it."""
    return tr.gettext(
        "Anonymous: your answer is stored without your name or anything else that points to "
        "you, and is shown only after the round closes, in results of at least {k} people. "
        "This card shows only that you answered. The chat service you use can see what you "
        "tap or write here."
    ).format(k=min_responses)


def answers_line(tr: Translator, view: PulseView) -> str:
    """Summarise the answers given so far, item by item ("" when none).

    An anonymous card says only "registered": the card is stored under the person.
    """
    shown = []
    registered = tr.gettext("registered")
    for number, item in enumerate(view.items, start=1):
        chosen = view.answers.get(item.position)
        if chosen is not None and view.anonymous:
            shown.append(f"{number}: {registered}")
        elif chosen is not None:
            shown.append(f"{number}: {_answer_text(tr, item, chosen)}")
    if not shown:
        return ""
    return tr.gettext("Your answers: {answers}").format(answers=" · ".join(shown))


def _answer_text(tr: Translator, item: ItemView, chosen: Chosen) -> str:
    if item.kind is PulseItemKind.LIKERT and chosen.number is not None:
        return likert_label(tr, chosen.number)
    if chosen.number is not None:
        return str(chosen.number)
    if chosen.choices:
        return ", ".join(item.options[i] for i in chosen.choices if 0 <= i < len(item.options))
    return tr.gettext("text saved")


def _answer_rows(tr: Translator, view: PulseView, item: ItemView) -> list[tuple[Button, ...]]:
    # An anonymous card marks no button: the marked one would be the answer.
    chosen = Chosen() if view.anonymous else view.answers.get(item.position, Chosen())
    ref = view.delivery_id, item.position

    def button(label: str, value: int, marked: bool) -> Button:
        return Button(label, PULSE_VALUE, item_ref(*ref, value), PRIMARY if marked else None)

    if item.kind is PulseItemKind.LIKERT:
        low, high = LIKERT_RANGE
        numbers = range(low, high + 1)
        return [tuple(button(likert_label(tr, n), n, chosen.number == n) for n in numbers)]
    if item.kind is PulseItemKind.SCALE:
        assert SCALE_ROWS[0][0] == SCALE_RANGE[0] and SCALE_ROWS[-1][1] == SCALE_RANGE[1]
        return [
            tuple(button(str(n), n, chosen.number == n) for n in range(low, high + 1))
            for low, high in SCALE_ROWS
        ]
    if item.kind in (PulseItemKind.SINGLE, PulseItemKind.MULTI):
        rows: list[tuple[Button, ...]] = [
            (button(label, index, index in chosen.choices),)
            for index, label in enumerate(item.options)
        ]
        if item.kind is PulseItemKind.MULTI:
            done = Button(tr.gettext("Done"), PULSE_DONE, item_ref(*ref), PRIMARY)
            rows.append((done,))
        return rows
    return []


def _navigation(tr: Translator, view: PulseView) -> list[tuple[Button, ...]]:
    if len(view.items) < 2:
        return []
    _ = tr.gettext
    buttons = []
    if view.current > 0:
        previous = view.items[view.current - 1].position
        buttons.append(Button(_("◀ Previous"), PULSE_GOTO, item_ref(view.delivery_id, previous)))
    if view.current < len(view.items) - 1:
        following = view.items[view.current + 1].position
        buttons.append(Button(_("Next ▶"), PULSE_GOTO, item_ref(view.delivery_id, following)))
    return [tuple(buttons)]


def _text_request(tr: Translator, view: PulseView, item: ItemView) -> TextRequest:
    _ = tr.gettext
    return TextRequest(
        label=_("Your answer"),
        action=PULSE_TEXT,
        value=item_ref(view.delivery_id, item.position),
        submit_label=_("Send"),
        max_length=view.max_text_length,
    )


# -- results, for coaches ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoundSummary:
    """One round's gated results, ready to be written out for a coach."""

    label: str  # e.g. "puls-a#3", the form coach commands accept
    is_open: bool
    answered: int
    asked: int
    part: str | None = None  # the cohort these figures are about; None: the whole round
    reports: tuple[ItemReport, ...] = ()
    item_texts: Mapping[str, str] = field(default_factory=dict)
    option_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    trend: Mapping[str, tuple[TrendPoint, ...]] = field(default_factory=dict)
    cohorts: Mapping[str, tuple[tuple[str, Shown], ...]] = field(default_factory=dict)


def withheld_text(tr: Translator, withheld: Withheld) -> str:
    """Say, translated, why a result is hidden."""
    _ = tr.gettext
    texts = {
        WithheldReason.TOO_FEW: _("Hidden: fewer than {k} people answered."),
        WithheldReason.ROUND_OPEN: _(
            "Hidden: the round is still open; results are shown when it closes."
        ),
        WithheldReason.DIFFERENCING: _(
            "Hidden: it differs from a larger group by fewer than {k} people, "
            "so comparing the two would reveal their answers."
        ),
        WithheldReason.COMPLEMENT: _(
            "Hidden: together with the other groups shown it would reveal "
            "a group of fewer than {k} people."
        ),
    }
    return texts[withheld.reason].format(k=withheld.min_responses)


def decimal(locale: str, number: float, digits: int = 1) -> str:
    """Format a number with the locale's decimal mark."""
    text = f"{number:.{digits}f}"
    return text.replace(".", ",") if locale in ("nb", "nn") else text


def percent(locale: str, share: float) -> str:
    """Format a share of one as a whole percentage."""
    return f"{round(100 * share)} %"


def results_message(
    tr: Translator, locale: str, summaries: Sequence[RoundSummary], tag: str = "pulse_results"
) -> OutMessage:
    """Write out rounds' results: rate, distribution, mean/eNPS, trend and cohorts."""
    _ = tr.gettext
    if not summaries:
        return OutMessage(_("None of your cohorts has a pulse round yet."), locale, tag=tag)
    lines: list[str] = []
    for summary in summaries:
        lines.extend(_summary_lines(tr, locale, summary))
        lines.append("")
    return OutMessage("\n".join(lines).strip(), locale, title=_("Pulse results"), tag=tag)


def _summary_lines(tr: Translator, locale: str, summary: RoundSummary) -> list[str]:
    _ = tr.gettext
    state = _("open") if summary.is_open else _("closed")
    name = f"{summary.label} · {summary.part}" if summary.part else summary.label
    lines = [f"{name} ({state})"]
    rate = (
        _("Answered: {answered} of {asked} ({percent})").format(
            answered=summary.answered,
            asked=summary.asked,
            percent=percent(locale, summary.answered / summary.asked),
        )
        if summary.asked
        else _("Answered: {answered}").format(answered=summary.answered)
    )
    lines.append(rate)
    if summary.is_open:
        lines.append(_("Results are shown when the round closes, so no answer can be singled out."))
        return lines
    for report in summary.reports:
        lines.extend(_item_lines(tr, locale, summary, report))
    return lines


def _item_lines(
    tr: Translator, locale: str, summary: RoundSummary, report: ItemReport
) -> list[str]:
    _ = tr.gettext
    key = report.item.key
    lines = [f"• {summary.item_texts.get(key, key)}"]
    lines.extend("  " + line for line in shown_lines(tr, locale, report.whole, summary, key))
    points = summary.trend.get(key, ())
    if len(points) > 1 and report.item.kind in (PulseItemKind.LIKERT, PulseItemKind.SCALE):
        lines.append("  " + _("Trend: {points}").format(points=_trend(tr, locale, points)))
    cohorts = summary.cohorts.get(key, ())
    if len(cohorts) > 1:
        parts = [f"{name}: {_headline(tr, locale, shown)}" for name, shown in cohorts]
        lines.append("  " + _("By cohort: {parts}").format(parts=" · ".join(parts)))
    return lines


def shown_lines(
    tr: Translator, locale: str, shown: Shown, summary: RoundSummary, key: str
) -> list[str]:
    """Return the lines for one gated result: its figures, or why it is hidden."""
    _ = tr.gettext
    if isinstance(shown, Withheld):
        return [withheld_text(tr, shown)]
    lines = []
    if shown.response_rate is not None:
        lines.append(
            _("{respondents} answers, response rate {rate}").format(
                respondents=shown.respondents, rate=percent(locale, shown.response_rate)
            )
        )
    if shown.distribution:
        labels = summary.option_labels.get(key, {})
        cells = [f"{labels.get(value, value)}: {count}" for value, count in shown.distribution]
        lines.append(_("Distribution: {cells}").format(cells=" · ".join(cells)))
    headline = _headline(tr, locale, shown)
    if shown.mean is not None or shown.enps is not None:
        lines.append(headline)
    lines.extend(f"“{text}”" for text in shown.texts)
    return lines


def _headline(tr: Translator, locale: str, shown: Shown) -> str:
    _ = tr.gettext
    if isinstance(shown, Withheld):
        return withheld_text(tr, shown)
    return _figures(tr, locale, shown)


def _figures(tr: Translator, locale: str, result: ItemResult) -> str:
    _ = tr.gettext
    parts = []
    if result.mean is not None:
        parts.append(_("mean {mean}").format(mean=decimal(locale, result.mean)))
    if result.enps is not None:
        parts.append(_("eNPS {enps}").format(enps=f"{result.enps:+.0f}"))
    if not parts:
        parts.append(_("{count} answers").format(count=result.respondents))
    return ", ".join(parts)


def _trend(tr: Translator, locale: str, points: Sequence[TrendPoint]) -> str:
    _ = tr.gettext
    cells = []
    for point in points:
        if isinstance(point.mean, Withheld):
            value = _("hidden")
        elif point.enps is not None and not isinstance(point.enps, Withheld):
            value = f"{point.enps:+.0f}"
        elif point.mean is not None:
            value = decimal(locale, point.mean)
        else:
            value = "–"
        cells.append(f"#{point.round_number} {value}")
    return " → ".join(cells)
