"""Gather one survey's gated results for one cohort: distributions per item and the trend.

Every number comes from `bot.services.pulses.round_results` (through the exports' part
picker), so the dashboard withholds exactly what the pulse rules withhold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.anonymity import Withheld, WithheldReason, effective_min_responses
from bot.core.pulse_results import ItemResult, Shown, trend
from bot.core.pulse_values import int_range
from bot.core.vocabulary import PulseItemKind
from bot.services.exports import pulse_parts, report_part
from bot.services.prompt_views import pick_text
from bot.web.dashboard.charts import BarChart, LineChart, bar_chart, line_chart
from storage.models import Cohort, PulseItem, PulseRound, PulseSurvey

Gettext = Callable[[str], str]


@dataclass
class ItemView:
    """One item of the chosen round, for one cohort."""

    key: str
    kind: str
    question: str
    result: ItemResult | None = None
    withheld: str | None = None
    chart: BarChart | None = None
    labels: dict[str, str] = field(default_factory=dict)
    trend: LineChart | None = None
    trend_notes: list[str] = field(default_factory=list)


@dataclass
class PulseView:
    """The pulse page: rounds to choose from, the chosen one, and its items."""

    survey: PulseSurvey
    title: str
    rounds: list[PulseRound]
    chosen: PulseRound | None
    items: list[ItemView]
    threshold: int


def explain(_: Gettext, withheld: Withheld) -> str:
    """Say, in the reader's language, why a result is hidden."""
    if withheld.reason is WithheldReason.TOO_FEW:
        text = _("Hidden to protect anonymity: fewer than {count} people answered.")
    elif withheld.reason is WithheldReason.ROUND_OPEN:
        text = _(
            "Hidden while the round is open: results are shown when it closes, so that no "
            "single answer can be picked out by comparing two looks."
        )
    elif withheld.reason is WithheldReason.DIFFERENCING:
        text = _(
            "Hidden to protect anonymity: it differs from a larger group by fewer than "
            "{count} people, so comparing the two would reveal their answers."
        )
    else:
        text = _(
            "Hidden to protect anonymity: together with the other groups shown it would "
            "reveal a group of fewer than {count} people."
        )
    return text.format(count=withheld.min_responses)


async def pulse_view(
    session: AsyncSession,
    cohort: Cohort,
    survey: PulseSurvey,
    round_number: int | None,
    locale: str,
    _: Gettext,
) -> PulseView:
    """Return the page's content for a cohort; the latest closed round unless one is chosen."""
    rounds = list(
        await session.scalars(
            select(PulseRound)
            .where(PulseRound.survey_id == survey.id, PulseRound.status != "scheduled")
            .order_by(PulseRound.number)
        )
    )
    chosen = _choose(rounds, round_number)
    items = list(
        await session.scalars(
            select(PulseItem).where(PulseItem.survey_id == survey.id).order_by(PulseItem.position)
        )
    )
    by_key = {item.key: item for item in items}
    views: dict[str, ItemView] = {}
    if chosen is not None:
        for part, report in await pulse_parts(session, chosen.id, [cohort.name]):
            item = by_key.get(report.item.key)
            if item is None:
                continue
            views[item.key] = _item_view(item, report_part(report, part), locale, _)
    await _add_trends(session, cohort, rounds, by_key, views, _)
    title = pick_text(survey.title, locale) or survey.key
    threshold = effective_min_responses(survey.min_responses)
    return PulseView(survey, title, rounds, chosen, list(views.values()), threshold)


def _choose(rounds: list[PulseRound], number: int | None) -> PulseRound | None:
    if number is not None:
        return next((r for r in rounds if r.number == number), None)
    closed = [r for r in rounds if r.status == "closed"]
    candidates = closed or rounds
    return candidates[-1] if candidates else None


def _item_view(item: PulseItem, shown: Shown, locale: str, _: Gettext) -> ItemView:
    view = ItemView(item.key, item.kind, pick_text(item.text, locale) or item.key)
    view.labels = {
        str(option["key"]): pick_text(option.get("text"), locale) or str(option["key"])
        for option in item.options or []
    }
    if isinstance(shown, Withheld):
        view.withheld = explain(_, shown)
        return view
    view.result = shown
    if shown.distribution:
        labelled = [(view.labels.get(label, label), count) for label, count in shown.distribution]
        view.chart = bar_chart(labelled)
    return view


async def _add_trends(
    session: AsyncSession,
    cohort: Cohort,
    rounds: list[PulseRound],
    items: dict[str, PulseItem],
    views: dict[str, ItemView],
    _: Gettext,
) -> None:
    """Draw each numeric item's mean over the closed rounds; withheld rounds leave gaps."""
    per_item: dict[str, list[tuple[int, Shown]]] = {}
    for pulse_round in (r for r in rounds if r.status == "closed"):
        for part, report in await pulse_parts(session, pulse_round.id, [cohort.name]):
            per_item.setdefault(report.item.key, []).append(
                (pulse_round.number, report_part(report, part))
            )
    for key, results in per_item.items():
        item = items.get(key)
        bounds = int_range(PulseItemKind(item.kind)) if item is not None else None
        if item is None or bounds is None or key not in views:
            continue
        points = trend(results)
        values = [
            (f"#{p.round_number}", p.mean if isinstance(p.mean, float | int) else None)
            for p in points
        ]
        views[key].trend = line_chart(values, float(bounds[0]), float(bounds[1]))
        views[key].trend_notes = [
            _("Round {number}: {why}").format(number=p.round_number, why=explain(_, p.mean))
            for p in points
            if isinstance(p.mean, Withheld)
        ]
