"""Who may read an answer: the narrower choice wins unless the leader chose otherwise."""

from __future__ import annotations

from bot.core.vocabulary import Visibility

# From most private to most shared.
ORDER = (Visibility.PRIVATE, Visibility.COACH, Visibility.GROUP)


def narrower(first: str, *others: str) -> Visibility:
    """Return the most private of the given visibilities."""
    return min((Visibility(v) for v in (first, *others)), key=ORDER.index)


def wider_than(visibility: str, bound: str) -> bool:
    """Tell whether `visibility` lets more people read than `bound`."""
    return ORDER.index(Visibility(visibility)) > ORDER.index(Visibility(bound))


def resolve(chosen: str | None, offered: str | None, bound: str) -> Visibility:
    """Return the visibility to store.

    `bound` is the most the answer may show without a choice (its parent's visibility, or
    the campaign's default). `offered` is what the form preselected. A choice equal to the
    preselection was not a choice, so it cannot widen past `bound`; only a choice the
    leader changed on the form, or made without a preselection, may.
    """
    if chosen is None:
        return Visibility(bound)
    if offered is not None and Visibility(chosen) == Visibility(offered):
        return narrower(chosen, bound)
    return Visibility(chosen)
