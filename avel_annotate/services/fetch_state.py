"""The state one `avel fetch` run shares between its worker threads, and the claim step.

:class:`Run` holds the store (each worker takes its own short sessions from it), the options,
the run's lease owner and counters guarded by one lock; :class:`Gate` paces the downloads (a
host pause after a rate limit, ``--rate-limit``). :func:`claim` takes the next clip from the
queue under a fresh fencing token (``store.fetch_queue`` explains the tokens).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from avel_annotate.config import Settings
from avel_annotate.domain.fetch_breaker import CircuitBreaker, Trip
from avel_annotate.services.fetch_options import FetchOptions
from avel_annotate.store import fetch_queue as fq
from avel_annotate.store.database import Store

log = logging.getLogger(__name__)

MAX_FAILURES_KEPT = 50  # failures listed in the report; the counters count them all


@dataclass(frozen=True)
class ClipFailure:
    clip_id: str
    error_class: str
    status: str
    message: str


class Gate:
    """Shared by the workers: a host pause (rate-limit back-off) and ``--rate-limit`` pacing."""

    def __init__(self, per_hour: float | None, stop: threading.Event) -> None:
        self._interval = 3600.0 / per_hour if per_hour else 0.0
        self._stop = stop
        self._lock = threading.Lock()
        self._paused_until = 0.0
        self._next_start = 0.0
        self.pauses: list[float] = []

    def pause(self, seconds: float) -> None:
        with self._lock:
            until = time.monotonic() + seconds
            if until > self._paused_until:
                self._paused_until = until
                self.pauses.append(seconds)
        log.warning("host answered with a rate limit: pausing all downloads for %.1f s", seconds)

    def wait_turn(self) -> bool:
        """Block until this worker may start a download; False when the run is stopping."""
        while not self._stop.is_set():
            with self._lock:
                now = time.monotonic()
                wait = max(self._paused_until, self._next_start) - now
                if wait <= 0:
                    self._next_start = now + self._interval
                    return True
            self._stop.wait(min(wait, 0.5))
        return False


@dataclass
class Run:
    settings: Settings
    opts: FetchOptions
    store: Store
    owner: str
    work_root: Path
    stop: threading.Event
    gate: Gate
    lock: threading.Lock = field(default_factory=threading.Lock)
    claimed: set[int] = field(default_factory=set)
    in_flight: set[int] = field(default_factory=set)
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    failures: list[ClipFailure] = field(default_factory=list)
    rate_strikes: int = 0
    stopped_reason: str | None = None
    interrupted: threading.Event = field(default_factory=threading.Event)
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)
    skip: set[int] = field(default_factory=set)  # given back this run: not claimed again
    refetch_before: datetime | None = None
    seq: int = 0
    trip: Trip | None = None

    def add_failure(self, failure: ClipFailure) -> None:
        """Keep the first failures for the report (call with ``lock`` held)."""
        if len(self.failures) < MAX_FAILURES_KEPT:
            self.failures.append(failure)


def queue_filter(run: Run) -> fq.QueueFilter:
    """The run's view of the queue: its split and labels, ``--limit`` reached, clips given back."""
    o = run.opts
    with run.lock:
        only = None
        if o.limit is not None and len(run.claimed) >= o.limit:
            only = tuple(sorted(run.claimed))
        skip = tuple(sorted(run.skip))
    return fq.QueueFilter(o.split, o.labels, only, skip, run.refetch_before)


def claim(run: Run) -> fq.Claim | None:
    """Claim the next clip under a new fencing token (one short unit of work)."""
    with run.lock:
        run.seq += 1
        token = f"{run.owner}:{run.seq}"  # this claim's fencing token
    with run.store.session() as session:
        got = fq.claim_next(session, token, run.opts.lease_s, queue_filter(run))
    if got is not None:
        with run.lock:
            run.claimed.add(got.id)
            run.in_flight.add(got.id)
    return got
