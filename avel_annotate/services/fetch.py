"""`avel fetch`: download, normalise and verify pending clips; the store is the work queue.

One run = ``workers`` threads in this process, each looping: wait for its turn (host pause,
``--rate-limit``), claim a clip (``store.fetch_queue``), download its 10-s section, normalise,
verify, then - in one unit of work - check the lease is still ours, rename the files into
``<data-dir>/clips/<clip_id[:2]>/`` and mark the clip fetched. Temporary work lives in
``<data-dir>/tmp/fetch/<host>_<pid>_<token>/``, removed at the end and, for dead processes of
this host, at the start. Several processes may run at once on PostgreSQL.

Failures are classified by ``domain.fetch_errors``; a rate-limit answer pauses every worker of the
run with exponential back-off. SIGINT (or SIGTERM) stops claiming, lets in-flight clips finish for
a few seconds, gives the rest back to the queue and returns the report with ``interrupted``.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy import Engine

from avel_annotate.config import Settings
from avel_annotate.domain import fetch_errors as fe
from avel_annotate.domain.ids import shard_of
from avel_annotate.errors import ConfigError, MediaError
from avel_annotate.media import download as dl
from avel_annotate.media import normalise as nm
from avel_annotate.media import probe as pr
from avel_annotate.services.clips import ImportReport, import_clip_list
from avel_annotate.services.progress import ProgressBar
from avel_annotate.services.store import open_store, store_session
from avel_annotate.store import fetch_queue as fq
from avel_annotate.store.engine import session_scope
from avel_annotate.store.tables import utcnow

log = logging.getLogger(__name__)

NormaliseSettings = nm.NormaliseSettings  # re-exported for the CLI's --encoder-preset
YOUTUBE_URL_TEMPLATE = "https://www.youtube.com/watch?v={ytid}"
SHORT_TOLERANCE_S = 0.1
MIN_CONTENT_S = 0.05


@dataclass(frozen=True)
class FetchOptions:
    limit: int | None = None
    split: str | None = None
    labels: tuple[str, ...] = ()
    workers: int = 2
    url_template: str = YOUTUBE_URL_TEMPLATE
    cookies: Path | None = None
    proxy: str | None = None
    rate_limit_per_hour: float | None = None
    retry_failed: bool = False
    force: bool = False
    lease_s: float = 600.0
    stop_grace_s: float = 5.0
    policy: fe.RetryPolicy = field(default_factory=fe.RetryPolicy)
    download: dl.DownloadOptions = field(default_factory=dl.DownloadOptions)
    normalise: nm.NormaliseSettings = field(default_factory=nm.NormaliseSettings)


@dataclass(frozen=True)
class ClipFailure:
    clip_id: str
    error_class: str
    status: str
    message: str


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
    elapsed_s: float
    clips_per_min: float
    remaining: int
    waiting: int
    next_retry_at: datetime | None
    host_pauses_s: list[float]
    errors: dict[str, int]
    failures: list[ClipFailure]


def _masked_template(template: str) -> str:
    return fe.mask_secrets(template)


def _check_options(o: FetchOptions) -> None:
    if "{ytid}" not in o.url_template:
        raise ConfigError(
            f"--url-template {_masked_template(o.url_template)!r} has no {{ytid}}",
            "write it like https://www.youtube.com/watch?v={ytid}",
        )
    if o.workers < 1:
        raise ConfigError(f"--workers {o.workers} must be at least 1")
    if o.cookies is not None and not o.cookies.is_file():
        raise ConfigError(f"--cookies {o.cookies}: no such file", "export cookies.txt first")
    if o.rate_limit_per_hour is not None and o.rate_limit_per_hour <= 0:
        raise ConfigError("--rate-limit must be a positive number of clips per hour")
    if o.normalise.preset not in nm.X264_PRESETS:
        raise ConfigError(
            f"--encoder-preset {o.normalise.preset!r} is not an x264 preset",
            f"use one of {', '.join(nm.X264_PRESETS)}",
        )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clean_stale_tmp(root: Path, host: str) -> None:
    """Remove work folders of dead processes of this host (other hosts may share the dir)."""
    if not root.is_dir():
        return
    for path in root.iterdir():
        parts = path.name.split("_")
        dead = len(parts) == 3 and parts[1].isdigit() and not _pid_alive(int(parts[1]))
        if dead and parts[0] == host:
            shutil.rmtree(path, ignore_errors=True)


class _Gate:
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
class _Run:
    settings: Settings
    opts: FetchOptions
    engine: Engine
    owner: str
    work_root: Path
    stop: threading.Event
    gate: _Gate
    lock: threading.Lock = field(default_factory=threading.Lock)
    claimed: set[int] = field(default_factory=set)
    in_flight: set[int] = field(default_factory=set)
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    failures: list[ClipFailure] = field(default_factory=list)
    rate_strikes: int = 0
    stopped_reason: str | None = None
    interrupted: threading.Event = field(default_factory=threading.Event)


def _queue_filter(run: _Run) -> fq.QueueFilter:
    base = fq.QueueFilter(split=run.opts.split, labels=run.opts.labels)
    with run.lock:
        if run.opts.limit is not None and len(run.claimed) >= run.opts.limit:
            return fq.QueueFilter(base.split, base.labels, tuple(sorted(run.claimed)))
    return base


def _claim(run: _Run) -> fq.Claim | None:
    with session_scope(run.engine) as session:
        claim = fq.claim_next(session, run.owner, run.opts.lease_s, _queue_filter(run))
    if claim is not None:
        with run.lock:
            run.claimed.add(claim.id)
            run.in_flight.add(claim.id)
    return claim


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _targets(settings: Settings, clip_id: str) -> tuple[Path, Path]:
    folder = settings.clips_dir / shard_of(clip_id)
    return folder / f"{clip_id}.mp4", folder / f"{clip_id}.wav"


def _source_ends_early(source_duration_s: float | None, start_s: int) -> bool:
    if source_duration_s is None:
        return False
    return source_duration_s - start_s < pr.CLIP_S - SHORT_TOLERANCE_S


def _produce(run: _Run, claim: fq.Claim, work: Path) -> tuple[Path, Path, dict[str, Any]]:
    """Download, normalise and verify one clip in ``work``; raises MediaError subclasses."""
    full = fe.wants_full_download(claim.error_class)
    url = run.opts.url_template.format(ytid=claim.ytid)
    section = None if full else (float(claim.start_s), float(claim.start_s) + pr.CLIP_S)
    got = dl.download_source(
        url, work, "source", clip_id=claim.clip_id, section=section, opts=run.opts.download
    )
    src = got.path
    info = pr.probe_media(src, claim.clip_id)
    pr.require_streams(info, claim.clip_id)
    content_s = min(pr.CLIP_S, info.duration_s - (claim.start_s if full else 0.0))
    if content_s < MIN_CONTENT_S:
        raise pr.ProbeError(
            claim.clip_id,
            f"the source ends before the clip starts at {claim.start_s} s "
            f"({info.duration_s:.2f} s downloaded)",
            "nothing to fix: the list names a start past the video's end",
        )
    is_short = content_s < pr.CLIP_S - SHORT_TOLERANCE_S
    if is_short and not full and not _source_ends_early(got.source_duration_s, claim.start_s):
        # A cut-short transfer looks exactly like a short source: only believe it when the
        # extractor says the source ends there; else the full download decides.
        raise pr.ProbeError(
            claim.clip_id,
            f"the section is {content_s:.2f} s long but the source's end is not known to be "
            "there; checking with a full download",
        )
    mp4, wav = work / "clip.mp4", work / "clip.wav"
    nm.normalise(
        src,
        mp4,
        wav,
        clip_id=claim.clip_id,
        fps=nm.output_fps(info.fps),
        seek_s=float(claim.start_s) if full else None,
        opts=run.opts.normalise,
    )
    verified = pr.verify_clip(mp4, wav, claim.clip_id)
    values: dict[str, Any] = {
        "duration_s": verified.duration_s,
        "source_duration_s": round(content_s, 3),
        "is_short": is_short,
        "media_bytes": verified.media_bytes,
        "wav_bytes": verified.wav_bytes,
        "media_sha256": verified.media_sha256,
        "wav_sha256": verified.wav_sha256,
    }
    return mp4, wav, values


def _commit_fetched(
    run: _Run, claim: fq.Claim, mp4: Path, wav: Path, values: dict[str, Any]
) -> bool:
    """Check the lease, rename into place and mark fetched, in one unit of work."""
    mp4_to, wav_to = _targets(run.settings, claim.clip_id)
    data_dir = run.settings.data_dir
    values = {
        **values,
        "media_path": mp4_to.relative_to(data_dir).as_posix(),
        "wav_path": wav_to.relative_to(data_dir).as_posix(),
    }
    _fsync(mp4)
    _fsync(wav)
    with session_scope(run.engine) as session:
        if not fq.mark_fetched(session, claim.id, run.owner, values):
            log.warning("clip %s: lease lost (taken over); result discarded", claim.clip_id)
            return False
        mp4_to.parent.mkdir(parents=True, exist_ok=True)
        os.replace(mp4, mp4_to)
        os.replace(wav, wav_to)
    return True


def _record_failure(run: _Run, claim: fq.Claim, e: MediaError) -> None:
    stage = str(getattr(e, "stage", "download"))
    detail = fe.one_line(str(getattr(e, "detail", e.message)))
    c = fe.classify(stage, detail)
    with run.lock:  # read and count the strike together, so simultaneous 429s escalate
        strikes = run.rate_strikes
        if c.kind is fe.Kind.RATE_LIMIT:
            run.rate_strikes += 1
    d = fe.decide(
        c,
        attempts=claim.attempts,
        full_download=fe.wants_full_download(claim.error_class),
        rate_limit_strikes=strikes,
        policy=run.opts.policy,
    )
    retry_at = utcnow() + timedelta(seconds=d.retry_in_s) if d.retry_in_s is not None else None
    with session_scope(run.engine) as session:
        fq.mark_failed(
            session,
            claim.id,
            run.owner,
            status=d.status,
            error_class=c.error_class,
            error_message=detail,
            retry_at=retry_at,
            refund_attempt=d.refund_attempt,
        )
    for target in _targets(run.settings, claim.clip_id):  # a crash between rename and commit
        target.unlink(missing_ok=True)
    with run.lock:
        run.errors[c.error_class] += 1
        run.outcomes["rate_limited" if c.kind is fe.Kind.RATE_LIMIT else d.status] += 1
        if len(run.failures) < 50:
            run.failures.append(ClipFailure(claim.clip_id, c.error_class, d.status, detail))
        if d.stop_run:
            run.stopped_reason = (
                f"rate limited {run.rate_strikes} times in a row: stopped; run again later, "
                "or use --cookies / --proxy / a lower --rate-limit"
            )
    log.info("clip %s: %s (%s): %s", claim.clip_id, d.status, c.error_class, detail)
    if d.pause_host_s:
        run.gate.pause(d.pause_host_s)
    if d.stop_run:
        run.stop.set()


def _process(run: _Run, claim: fq.Claim) -> None:
    work = run.work_root / claim.clip_id
    try:
        try:
            mp4, wav, values = _produce(run, claim, work)
        except MediaError as e:
            if (
                run.interrupted.is_set()
            ):  # e.g. ffmpeg killed by the same Ctrl-C: not the clip's fault
                with session_scope(run.engine) as session:
                    fq.release(session, run.owner, [claim.id])
                return
            _record_failure(run, claim, e)
            return
        if _commit_fetched(run, claim, mp4, wav, values):
            with run.lock:
                run.outcomes["fetched"] += 1
                run.outcomes["short"] += int(bool(values["is_short"]))
                run.rate_strikes = 0
            log.info("clip %s: fetched%s", claim.clip_id, " (short)" if values["is_short"] else "")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        with run.lock:
            run.in_flight.discard(claim.id)


def _wait_for_rate_limited(run: _Run) -> bool:
    """While backing off from a rate limit, wait for the clips it put off instead of quitting."""
    with run.lock:
        if run.rate_strikes == 0:
            return False
    with session_scope(run.engine) as session:
        n, first = fq.waiting_count(session, _queue_filter(run))
    if not n or first is None:
        return False
    wait_s = (first - utcnow()).total_seconds()
    if wait_s > run.opts.policy.backoff_max_s:
        return False
    run.stop.wait(min(max(wait_s, 0.05), 5.0))
    return not run.stop.is_set()


def _worker(run: _Run) -> None:
    try:
        while not run.stop.is_set():
            if not run.gate.wait_turn():
                return
            claim = _claim(run)
            if claim is None:
                if _wait_for_rate_limited(run):
                    continue
                return
            _process(run, claim)
    except Exception as e:  # a store or programming error: stop the whole run, say why
        log.exception("fetch worker failed")
        with run.lock:
            run.stopped_reason = f"worker failed: {type(e).__name__}: {fe.one_line(str(e))}"
        run.stop.set()


def _update_progress(bar: ProgressBar, run: _Run) -> None:
    with run.lock:
        done = run.outcomes["fetched"] + run.outcomes["failed_permanent"]
        failed = run.outcomes["failed_permanent"] + run.outcomes["failed_retryable"]
    bar.set(done, failed)


def _prepare(run: _Run, host: str) -> tuple[int, int]:
    """Reclaim dead owners' leases, apply --retry-failed / --force; return (reclaimed, total)."""
    o = run.opts
    base = fq.QueueFilter(split=o.split, labels=o.labels)
    with session_scope(run.engine) as session:
        reclaimed = fq.reclaim_dead_owners(session, host, _pid_alive)
        if o.retry_failed:
            fq.reset_for_run(
                session, base, statuses=("failed_retryable", "failed_permanent"), limit=o.limit
            )
        if o.force:
            fq.reset_for_run(session, base, statuses=("fetched",), limit=o.limit)
        total = fq.claimable_count(session, base)
    return reclaimed, total if o.limit is None else min(total, o.limit)


def fetch_clips(
    settings: Settings, opts: FetchOptions, *, csv_path: Path | None = None
) -> FetchReport:
    """Import ``csv_path`` (if given, same rules as `avel clips import`), then fetch the queue."""
    _check_options(opts)
    imported = import_clip_list(settings, csv_path) if csv_path is not None else None
    host = socket.gethostname().replace("_", "-").replace(":", "-")
    token = uuid.uuid4().hex[:8]
    owner = f"{host}:{os.getpid()}:{token}"
    tmp_root = settings.data_dir / "tmp" / "fetch"
    _clean_stale_tmp(tmp_root, host)
    work_root = tmp_root / f"{host}_{os.getpid()}_{token}"
    work_root.mkdir(parents=True, exist_ok=True)
    engine = open_store(settings)
    stop = threading.Event()
    run = _Run(
        settings, opts, engine, owner, work_root, stop, _Gate(opts.rate_limit_per_hour, stop)
    )
    started = time.monotonic()
    interrupted = False
    released = 0
    old_term = _install_sigterm()
    progress: ProgressBar | None = None
    try:
        reclaimed, total = _prepare(run, host)
        if opts.proxy:
            log.info("using proxy %s", dl.mask_url(opts.proxy))
        progress = ProgressBar(settings.progress, total, "fetch")
        threads = [
            threading.Thread(target=_worker, args=(run,), name=f"fetch-{i}", daemon=True)
            for i in range(opts.workers)
        ]
        for t in threads:
            t.start()
        last_renew = time.monotonic()
        try:
            while any(t.is_alive() for t in threads):
                for t in threads:
                    t.join(timeout=0.2)
                _update_progress(progress, run)
                if time.monotonic() - last_renew > opts.lease_s / 3:
                    with session_scope(engine) as session:
                        fq.renew_leases(session, owner, opts.lease_s)
                    last_renew = time.monotonic()
        except KeyboardInterrupt:
            interrupted = True
            run.interrupted.set()
            stop.set()
            log.warning(
                "interrupted: finishing clips in flight (%.0f s at most)", opts.stop_grace_s
            )
            deadline = time.monotonic() + opts.stop_grace_s
            for t in threads:
                t.join(timeout=max(0.0, deadline - time.monotonic()))
        with session_scope(engine) as session:
            released = fq.release(session, owner)
        report = _report(run, imported, started, interrupted, released, reclaimed)
    finally:
        if progress is not None:
            progress.close()
        _restore_sigterm(old_term)
        shutil.rmtree(work_root, ignore_errors=True)
        engine.dispose()
    return report


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _install_sigterm() -> Any:
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_interrupt)


def _restore_sigterm(old: Any) -> None:
    if old is not None:
        signal.signal(signal.SIGTERM, old)


def _report(
    run: _Run,
    imported: ImportReport | None,
    started: float,
    interrupted: bool,
    released: int,
    reclaimed: int,
) -> FetchReport:
    elapsed = time.monotonic() - started
    base = fq.QueueFilter(split=run.opts.split, labels=run.opts.labels)
    with session_scope(run.engine) as session:
        remaining = fq.claimable_count(session, base)
        waiting, next_at = fq.waiting_count(session, base)
    o = run.outcomes
    return FetchReport(
        imported=imported,
        attempted=len(run.claimed),
        fetched=o["fetched"],
        short=o["short"],
        failed_retryable=o["failed_retryable"],
        failed_permanent=o["failed_permanent"],
        rate_limited=o["rate_limited"],
        released=released,
        reclaimed=reclaimed,
        interrupted=interrupted,
        stopped_reason=run.stopped_reason,
        elapsed_s=round(elapsed, 2),
        clips_per_min=round(o["fetched"] / elapsed * 60, 2) if elapsed > 0 else 0.0,
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


def fetch_status(settings: Settings) -> FetchStatus:
    """Counts by status and error class, the last hour's rate, and the ETA at that rate."""
    with store_session(settings) as session:
        by_status = fq.status_counts(session)
        errors = fq.error_counts(session)
        short = fq.short_count(session)
        now = utcnow()
        n_hour, first = fq.fetched_since(session, now - timedelta(hours=1))
    span_s = max(60.0, (now - first).total_seconds()) if first is not None else 3600.0
    rate = n_hour / span_s * 3600 if n_hour else 0.0
    remaining = sum(by_status.get(s, 0) for s in ("pending", "in_progress", "failed_retryable"))
    eta = remaining / rate * 3600 if rate > 0 else None
    return FetchStatus(by_status, errors, short, n_hour, round(rate, 1), remaining, eta)
