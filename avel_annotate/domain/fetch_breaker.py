"""The fetch circuit breaker: stop a run whose failures are about the machine, not the clips.

Pure state over a stream of outcomes. Every failure class in :data:`TRIP_AFTER` trips the
breaker once it is met that many times in a row (any success resets the streak): a full disk at
once, a missing JavaScript solver, bot checks, 403s or DNS after a few clips, a dead network
after more. The service then stops claiming, gives the streak's clips back to the queue with
their attempts refunded (so a re-run after the fix fetches them without ``--retry-failed``), and
prints the stop line with the fix from ``fetch_errors.ENV_FIXES``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from avel_annotate.domain.fetch_errors import ENV_FIXES

# failure class -> consecutive clips that trip the breaker
TRIP_AFTER: dict[str, int] = {
    "disk_full": 1,
    "read_only": 1,
    "permission": 1,
    "store": 1,
    "js_challenge": 3,
    "bot_check": 5,
    "forbidden": 5,
    "dns": 5,
    "network": 10,
}


@dataclass(frozen=True)
class Trip:
    error_class: str
    count: int
    clip_pks: tuple[int, ...]  # the clips of the streak: give them back to the queue

    @property
    def reason(self) -> str:
        what = "clip" if self.count == 1 else f"{self.count} clips in a row"
        return f"stopped: {what} failed with {self.error_class}"

    @property
    def fix(self) -> str:
        return ENV_FIXES.get(self.error_class, "see `avel fetch status`")

    def one_line(self) -> str:
        return f"{self.reason}; {self.fix}"


@dataclass
class CircuitBreaker:
    trip_after: dict[str, int] = field(default_factory=lambda: dict(TRIP_AFTER))
    _class: str | None = None
    _streak: list[int] = field(default_factory=list)
    tripped: Trip | None = None

    def success(self) -> None:
        self._class, self._streak = None, []

    def failure(self, error_class: str, clip_pk: int) -> Trip | None:
        """Record a failed clip; the Trip when this failure opens the breaker (first time)."""
        if error_class != self._class:
            self._class, self._streak = error_class, []
        self._streak.append(clip_pk)
        limit = self.trip_after.get(error_class)
        if self.tripped is None and limit is not None and len(self._streak) >= limit:
            self.tripped = Trip(error_class, len(self._streak), tuple(self._streak))
            return self.tripped
        return None
