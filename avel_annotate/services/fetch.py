"""`avel fetch`: download, normalise and verify pending clips; the store is the work queue.

How a clip travels: the CLI builds :class:`FetchOptions` (``fetch_options``) and calls
:func:`fetch_clips` with the command's store. It imports the list (if given), prepares the
queue and starts ``workers`` threads (``fetch_run``); each claims one clip at a time under a
fencing token (``fetch_state`` over ``store.fetch_queue``) and takes it through download,
normalise and verify to the commit (``fetch_clip``): in one short unit of work the lease is
checked, the clip marked fetched and its files renamed into ``<data-dir>/clips/<id[:2]>/``.
Several processes may run at once on PostgreSQL.

Failures are classified by ``domain.fetch_errors``; a rate-limit answer pauses every worker of the
run with exponential back-off. SIGINT (or SIGTERM) stops claiming, lets in-flight clips finish for
a few seconds, gives the rest back to the queue and returns the report with ``interrupted``.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from avel_annotate.config import Settings
from avel_annotate.domain import fetch_errors as fe
from avel_annotate.domain.vocab import ClipStatus
from avel_annotate.errors import StoreError
from avel_annotate.media import download as dl
from avel_annotate.services import fetch_preflight as pf
from avel_annotate.services.clips import ImportReport, import_clip_list
from avel_annotate.services.fetch_options import (
    SUPPORTED_JS_RUNTIMES,
    YOUTUBE_URL_TEMPLATE,
    FetchOptions,
    NormaliseSettings,
    check_options,
    check_proxy_argument,
    check_url_template,
    effective,
)
from avel_annotate.services.fetch_run import (
    host_name,
    new_run,
    prepare,
    run_workers,
    sigterm_as_interrupt,
)
from avel_annotate.services.fetch_state import ClipFailure, Run
from avel_annotate.services.progress import ProgressBar
from avel_annotate.store import fetch_queue as fq
from avel_annotate.store.database import Store
from avel_annotate.store.engine import STORE_ERRORS
from avel_annotate.store.tables import utcnow

log = logging.getLogger(__name__)

# the options and their checks live in fetch_options; callers may take them from here
__all__ = [
    "SUPPORTED_JS_RUNTIMES",
    "YOUTUBE_URL_TEMPLATE",
    "ClipFailure",
    "FetchOptions",
    "FetchReport",
    "FetchStatus",
    "NormaliseSettings",
    "check_options",
    "check_proxy_argument",
    "check_url_template",
    "fetch_clips",
    "fetch_status",
]


@dataclass(frozen=True)
class FetchReport:
    imported: ImportReport | None
    attempted: int
    fetched: int
    short: int
    failed_retryable: int
    failed_permanent: int
    rate_limited: int
    released: int
    reclaimed: int
    interrupted: bool
    stopped_reason: str | None
    stop_fix: str | None  # what to fix before running again (the circuit breaker's advice)
    refetch_kept: int  # forced re-fetches that failed: the clip kept its old files and row
    elapsed_s: float
    clips_per_min: float
    remaining: int
    waiting: int
    next_retry_at: datetime | None
    host_pauses_s: list[float]
    errors: dict[str, int]
    failures: list[ClipFailure]


def fetch_clips(
    store: Store, settings: Settings, opts: FetchOptions, *, csv_path: Path | None = None
) -> FetchReport:
    """Import ``csv_path`` (if given, same rules as `avel clips import`), then fetch the queue."""
    check_options(opts)
    opts = effective(settings, opts)
    imported = import_clip_list(store, settings, csv_path) if csv_path is not None else None
    host = host_name()
    run = new_run(store, settings, opts, host)
    started = time.monotonic()
    progress: ProgressBar | None = None
    try:
        with sigterm_as_interrupt():
            reclaimed, total = prepare(run, host)
            if opts.preflight and total:
                pf.preflight(settings, pf.PreflightInput(opts.url_template, opts.download, total))
            if opts.proxy:
                log.info("using proxy %s", dl.mask_url(opts.proxy))
            progress = ProgressBar(settings.progress, total, "fetch")
            interrupted, released = run_workers(run, progress)
            return _report(run, imported, started, interrupted, released, reclaimed)
    except STORE_ERRORS as e:
        raise StoreError(
            f"fetch stopped: the database failed: {fe.one_line(str(e), 200)}; no clip was "
            "marked failed (leases expire and the clips are fetched by the next run)",
            fe.ENV_FIXES["store"],
        ) from e
    finally:
        if progress is not None:
            progress.close()
        shutil.rmtree(run.work_root, ignore_errors=True)


def _report(
    run: Run,
    imported: ImportReport | None,
    started: float,
    interrupted: bool,
    released: int,
    reclaimed: int,
) -> FetchReport:
    elapsed = time.monotonic() - started
    base = fq.QueueFilter(split=run.opts.split, labels=run.opts.labels)
    with run.store.session() as session:
        remaining = fq.claimable_count(session, base)
        waiting, next_at = fq.waiting_count(session, base)
    o = run.outcomes
    return FetchReport(
        imported=imported,
        attempted=len(run.claimed),
        fetched=o[ClipStatus.FETCHED],
        short=o["short"],
        failed_retryable=o[ClipStatus.FAILED_RETRYABLE],
        failed_permanent=o[ClipStatus.FAILED_PERMANENT],
        rate_limited=o["rate_limited"],
        released=released,
        reclaimed=reclaimed,
        interrupted=interrupted,
        stopped_reason=run.stopped_reason,
        stop_fix=run.trip.fix if run.trip is not None else None,
        refetch_kept=o["refetch_kept"],
        elapsed_s=round(elapsed, 2),
        clips_per_min=round(o[ClipStatus.FETCHED] / elapsed * 60, 2) if elapsed > 0 else 0.0,
        remaining=remaining,
        waiting=waiting,
        next_retry_at=next_at,
        host_pauses_s=list(run.gate.pauses),
        errors=dict(run.errors),
        failures=list(run.failures),
    )


@dataclass(frozen=True)
class FetchStatus:
    by_status: dict[str, int]
    by_error_class: dict[str, int]
    short: int
    fetched_last_hour: int
    rate_per_hour: float
    remaining: int
    eta_s: float | None


def fetch_status(store: Store) -> FetchStatus:
    """Counts by status and error class, the last hour's rate, and the ETA at that rate."""
    with store.session() as session:
        by_status = fq.status_counts(session)
        errors = fq.error_counts(session)
        short = fq.short_count(session)
        now = utcnow()
        n_hour, first = fq.fetched_since(session, now - timedelta(hours=1))
    span_s = max(60.0, (now - first).total_seconds()) if first is not None else 3600.0
    rate = n_hour / span_s * 3600 if n_hour else 0.0
    remaining = sum(
        by_status.get(s, 0)
        for s in (ClipStatus.PENDING, ClipStatus.IN_PROGRESS, ClipStatus.FAILED_RETRYABLE)
    )
    eta = remaining / rate * 3600 if rate > 0 else None
    return FetchStatus(by_status, errors, short, n_hour, round(rate, 1), remaining, eta)
