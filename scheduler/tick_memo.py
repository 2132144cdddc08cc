"""What earlier ticks of this process finished, so that an idle tick repeats none of it.

A firing (a campaign's day, a pulse round) is materialised for everyone whose due time
falls in the tick's window. The memo remembers up to which instant that was done, and
under which fingerprint of the roster and programme; the next tick materialises the
firing again only if some time zone's due time has entered the window since, or the
fingerprint changed. Rows are inserted with ON CONFLICT DO NOTHING, so doing it again is
harmless; the memo only saves the work.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.timing import Window, zone_name
from storage.queries.fingerprints import audience_fingerprint, time_zones


@dataclass
class TickMemo:
    """The instants through which each firing's rows exist, valid for one fingerprint."""

    fingerprint: tuple[Any, ...] | None = None
    zones: frozenset[str] = frozenset()
    _through: dict[Hashable, datetime] = field(default_factory=dict)

    async def refresh(self, session: AsyncSession, default_zone: str) -> None:
        """Forget everything if the roster or programme changed since the last tick."""
        fingerprint = await audience_fingerprint(session)
        if fingerprint == self.fingerprint:
            return
        self.fingerprint = fingerprint
        self.zones = frozenset(zone_name(z, default_zone) for z in await time_zones(session))
        self._through.clear()

    def forget(self) -> None:
        """Forget everything (another instance may have ticked meanwhile)."""
        self.fingerprint = None
        self._through.clear()

    def owes(self, firing: Hashable, window: Window, due_times: Collection[datetime]) -> bool:
        """Tell whether some due time of `firing` entered `window` since it was last covered."""
        through = self._through.get(firing)
        if through is None:
            return any(window.contains(due) for due in due_times)
        return any(max(through, window.start) < due <= window.end for due in due_times)

    def covered(self, firing: Hashable, window: Window) -> None:
        """Remember that every row of `firing` due up to the window's end now exists."""
        self._through[firing] = window.end
