"""When to try a failed send again: Retry-After for 429s, full-jitter backoff otherwise."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RetryPolicy:
    """Limits and backoff for retries.

    `max_attempts` counts sends that failed with a 5xx, a timeout or a dropped
    connection; 429 answers are counted apart and capped by `max_throttles`.
    """

    max_attempts: int = 8
    max_throttles: int = 50
    base: float = 1.0
    cap: float = 300.0
    min_retry_after: float = 0.0
    max_retry_after: float = 3600.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def backoff(self, attempts: int) -> float:
        """Return the wait before attempt `attempts + 1`: uniform in [0, min(cap, base·2ⁿ⁻¹)]."""
        ceiling = min(self.cap, self.base * 2 ** max(0, attempts - 1))
        return self.rng.uniform(0, ceiling)

    def retry_after(self, seconds: float) -> float:
        """Return the platform's Retry-After, kept within sane bounds."""
        return min(self.max_retry_after, max(self.min_retry_after, seconds))

    def gives_up(self, attempts: int) -> bool:
        """Tell whether `attempts` failed sends are enough."""
        return attempts >= self.max_attempts

    def throttled_out(self, throttles: int) -> bool:
        """Tell whether `throttles` 429 answers are enough."""
        return throttles >= self.max_throttles
