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
import string
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from avel_annotate.config import Settings
from avel_annotate.domain import fetch_errors as fe
from avel_annotate.domain.fetch_breaker import CircuitBreaker, Trip
from avel_annotate.domain.ids import shard_of
from avel_annotate.errors import ConfigError, MediaError, StoreError
from avel_annotate.media import children, ytdlp_env
from avel_annotate.media import download as dl
from avel_annotate.media import normalise as nm
from avel_annotate.media import probe as pr
from avel_annotate.services import fetch_preflight as pf
from avel_annotate.services.clips import ImportReport, import_clip_list
from avel_annotate.services.progress import ProgressBar
from avel_annotate.services.store import open_engine, store_session
from avel_annotate.store import fetch_queue as fq
from avel_annotate.store.engine import session_scope
from avel_annotate.store.tables import utcnow

log = logging.getLogger(__name__)

NormaliseSettings = nm.NormaliseSettings  # re-exported for the CLI's --encoder-preset
SUPPORTED_JS_RUNTIMES = ytdlp_env.SUPPORTED_RUNTIMES
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
    cookies_from_browser: str | None = None
    proxy: str | None = None  # else the settings' (AVEL_PROXY / config.toml)
    js_runtime: str | None = None  # NAME[:PATH]; default: the deno wheel
    rate_limit_per_hour: float | None = None
    retry_failed: bool = False
    force: bool = False
    preflight: bool = True
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


def _masked_template(template: str) -> str:
    return fe.mask_secrets(template)


def check_url_template(template: str) -> None:
    """``{ytid}`` and nothing else between braces (``{{`` / ``}}`` for literal braces)."""
    shown = _masked_template(template)
    hint = "write it like https://www.youtube.com/watch?v={ytid} ({{ and }} for literal braces)"
    try:
        fields = [f for _, f, spec, conv in string.Formatter().parse(template) if f is not None]
        names = {f for f in fields}
        template.format(ytid="x")
    except (ValueError, IndexError, KeyError) as e:
        raise ConfigError(f"--url-template {shown!r} is malformed: {e}", hint) from e
    others = sorted(names - {"ytid"})
    if others:
        fields_shown = ", ".join("{" + f + "}" for f in others)
        raise ConfigError(f"--url-template {shown!r} has unknown field(s) {fields_shown}", hint)
    if "ytid" not in names:
        raise ConfigError(f"--url-template {shown!r} has no {{ytid}}", hint)


def check_proxy_argument(proxy: str | None) -> None:
    """A password on the command line is readable by every local user (`ps`): refuse it."""
    if proxy and fe.mask_secrets(proxy) != proxy:
        raise ConfigError(
            "--proxy holds a password, which every local user can read in `ps`",
            "put the proxy URL in the AVEL_PROXY environment variable or `proxy` in config.toml",
        )


def _effective(settings: Settings, o: FetchOptions) -> FetchOptions:
    """Fold cookies, proxy and JS runtime into the yt-dlp options the workers use."""
    name, _, path = (o.js_runtime or o.download.js_runtime).partition(":")
    download = replace(
        o.download,
        cookies=o.cookies or o.download.cookies,
        cookies_from_browser=o.cookies_from_browser or o.download.cookies_from_browser,
        proxy=o.proxy or settings.proxy or o.download.proxy,
        js_runtime=name,
        js_runtime_path=path or o.download.js_runtime_path,
    )
    return replace(o, download=download, proxy=download.proxy)


def _check_options(o: FetchOptions) -> None:
    check_url_template(o.url_template)
    if o.workers < 1:
        raise ConfigError(f"--workers {o.workers} must be at least 1")
    if o.cookies is not None and not o.cookies.is_file():
        raise ConfigError(f"--cookies {o.cookies}: no such file", "export cookies.txt first")
    if o.rate_limit_per_hour is not None and o.rate_limit_per_hour <= 0:
        raise ConfigError("--rate-limit must be a positive number of clips per hour")
    if o.js_runtime is not None:
        name = o.js_runtime.partition(":")[0]
        if name not in SUPPORTED_JS_RUNTIMES:
            raise ConfigError(
                f"--js-runtime {o.js_runtime!r}: unknown runtime {name!r}",
                f"use one of {', '.join(SUPPORTED_JS_RUNTIMES)}, optionally NAME:/path/to/binary",
            )
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
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)
    skip: set[int] = field(default_factory=set)  # given back this run: not claimed again
    refetch_before: datetime | None = None
    seq: int = 0
    trip: Trip | None = None


def _queue_filter(run: _Run) -> fq.QueueFilter:
    o = run.opts
    with run.lock:
        only = None
        if o.limit is not None and len(run.claimed) >= o.limit:
            only = tuple(sorted(run.claimed))
        skip = tuple(sorted(run.skip))
    return fq.QueueFilter(o.split, o.labels, only, skip, run.refetch_before)


def _claim(run: _Run) -> fq.Claim | None:
    with run.lock:
        run.seq += 1
        token = f"{run.owner}:{run.seq}"  # this claim's fencing token
    with session_scope(run.engine) as session:
        claim = fq.claim_next(session, token, run.opts.lease_s, _queue_filter(run))
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


def _staged(target: Path, token: str) -> Path:
    """The name a verified file has beside its target until the swap: it carries the token."""
    tag = token.rsplit(":", 2)[-2:]  # run id and claim number: unique per claim
    return target.with_name(f".{target.stem}.{'-'.join(tag)}{target.suffix}.new")


def _commit_fetched(
    run: _Run, claim: fq.Claim, mp4: Path, wav: Path, values: dict[str, Any]
) -> bool:
    """Stage the files beside their targets, then - in one unit of work - check the lease and
    mark fetched in one statement, and swap the staged files in (atomic renames).

    Until the swap a forced re-fetch leaves the old files and row untouched. A worker that lost
    its lease removes only its own staged files, never the clip's.
    """
    mp4_to, wav_to = _targets(run.settings, claim.clip_id)
    data_dir = run.settings.data_dir
    values = {
        **values,
        "media_path": mp4_to.relative_to(data_dir).as_posix(),
        "wav_path": wav_to.relative_to(data_dir).as_posix(),
    }
    _fsync(mp4)
    _fsync(wav)
    mp4_to.parent.mkdir(parents=True, exist_ok=True)
    # files staged for this clip by earlier claims (killed between staging and swap) are
    # orphans: this claim holds the lease, so no other worker can still swap them in
    for old in mp4_to.parent.glob(f".{claim.clip_id}.*.new"):
        old.unlink(missing_ok=True)
    staged = [(_staged(mp4_to, claim.token), mp4_to), (_staged(wav_to, claim.token), wav_to)]
    try:
        # beside the target (a move, also across file systems), so the swap is a rename
        shutil.move(mp4, staged[0][0])
        shutil.move(wav, staged[1][0])
        with session_scope(run.engine) as session:
            if not fq.mark_fetched(session, claim.id, claim.token, values):
                log.warning("clip %s: lease lost (taken over); result discarded", claim.clip_id)
                return False
            for tmp, target in staged:
                os.replace(tmp, target)
        return True
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)


class _LocalError(MediaError):
    """Our own file work failed (mkdir, rename): the machine's trouble, not the clip's."""

    stage = "local"

    def __init__(self, clip_id: str, e: OSError) -> None:
        super().__init__(f"clip {clip_id}: {e}")
        self.detail = f"{type(e).__name__}: [Errno {e.errno}] {e.strerror}: {e.filename}"


def _environment_fault(run: _Run) -> str | None:
    """Whatever a tool said, is the data dir the trouble? A full disk often shows as
    "ffmpeg exited with code 1" or a truncated file, which must not condemn the clip."""
    probe = run.work_root / f".probe-{threading.get_ident()}"
    try:
        run.work_root.mkdir(parents=True, exist_ok=True)
        with probe.open("wb") as fh:
            fh.write(b"\0" * 4096)
            fh.flush()
            os.fsync(fh.fileno())
        free = shutil.disk_usage(run.work_root).free
    except OSError as e:
        c = fe.classify("local", f"[Errno {e.errno}] {e.strerror}")
        return c.error_class if c.kind is fe.Kind.ENVIRONMENT else "disk_full"
    finally:
        probe.unlink(missing_ok=True)
    return "disk_full" if free < pf.MIN_FREE_BYTES else None


def _record_failure(run: _Run, claim: fq.Claim, e: MediaError) -> None:
    stage = str(getattr(e, "stage", "download"))
    detail = fe.one_line(str(getattr(e, "detail", e.message)))
    hints = fe.one_line(str(getattr(e, "hints", "")), 2000)
    c = fe.classify(stage, detail, hints)
    if c.kind is not fe.Kind.ENVIRONMENT:
        fault = _environment_fault(run)
        if fault is not None:
            c = fe.Classification(fault, fe.Kind.ENVIRONMENT)
    if claim.refetch:
        _record_refetch_failure(run, claim, c, detail)
        return
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
        # fenced: a worker whose lease was taken over changes nothing (and deletes nothing)
        fq.mark_failed(
            session,
            claim.id,
            claim.token,
            status=d.status,
            error_class=c.error_class,
            error_message=detail,
            retry_at=retry_at,
            refund_attempt=d.refund_attempt,
        )
    environment = c.kind is fe.Kind.ENVIRONMENT
    with run.lock:
        run.errors[c.error_class] += 1
        outcome = "rate_limited" if c.kind is fe.Kind.RATE_LIMIT else d.status
        run.outcomes["given_back" if environment else outcome] += 1
        if environment:
            run.skip.add(claim.id)  # not again in this run: the next run after the fix
        if len(run.failures) < 50:
            run.failures.append(ClipFailure(claim.clip_id, c.error_class, d.status, detail))
        if d.stop_run:
            run.stopped_reason = (
                f"rate limited {run.rate_strikes} times in a row: stopped; run again later, "
                "or use --cookies / --proxy / a lower --rate-limit"
            )
        trip = run.breaker.failure(c.error_class, claim.id)
    log.info("clip %s: %s (%s): %s", claim.clip_id, d.status, c.error_class, detail)
    if d.pause_host_s:
        run.gate.pause(d.pause_host_s)
    if trip is not None:
        _trip(run, trip)
    if d.stop_run:
        run.stop.set()


def _record_refetch_failure(run: _Run, claim: fq.Claim, c: fe.Classification, detail: str) -> None:
    """A forced re-fetch failed: the clip keeps its old files and row, whatever the cause."""
    with session_scope(run.engine) as session:
        fq.end_refetch(session, claim.id, claim.token)
    with run.lock:
        run.skip.add(claim.id)
        run.errors[c.error_class] += 1
        run.outcomes["refetch_kept"] += 1
        if len(run.failures) < 50:
            run.failures.append(ClipFailure(claim.clip_id, c.error_class, "fetched (kept)", detail))
        trip = run.breaker.failure(c.error_class, claim.id)
    log.info("clip %s: re-fetch failed (%s), old kept: %s", claim.clip_id, c.error_class, detail)
    if trip is not None:
        _trip(run, trip)


def _trip(run: _Run, trip: Trip) -> None:
    """The breaker opened: stop claiming; the streak's clips go back to the queue."""
    with run.lock:
        run.stopped_reason = trip.reason
        run.trip = trip
    log.warning("fetch %s", trip.one_line())
    run.stop.set()


def _process(run: _Run, claim: fq.Claim) -> None:
    work = run.work_root / claim.clip_id
    try:
        try:
            try:
                mp4, wav, values = _produce(run, claim, work)
            except OSError as oe:
                raise _LocalError(claim.clip_id, oe) from oe
        except MediaError as e:
            if (
                run.interrupted.is_set()
            ):  # e.g. ffmpeg killed by the same Ctrl-C: not the clip's fault
                with session_scope(run.engine) as session:
                    fq.release(session, run.owner, [claim.id])
                return
            _record_failure(run, claim, e)
            return
        try:
            committed = _commit_fetched(run, claim, mp4, wav, values)
        except OSError as oe:
            _record_failure(run, claim, _LocalError(claim.clip_id, oe))
            return
        if committed:
            with run.lock:
                run.outcomes["fetched"] += 1
                run.outcomes["short"] += int(bool(values["is_short"]))
                run.rate_strikes = 0
                run.breaker.success()
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
    except (SQLAlchemyError, StoreError) as e:  # the store went away: no clip is to blame
        log.warning("fetch worker: store error: %s", fe.one_line(str(e)))
        with run.lock:
            if run.trip is None:
                run.trip = Trip("store", 1, ())
                run.stopped_reason = f"stopped: the database failed: {fe.one_line(str(e), 200)}"
        run.stop.set()
    except Exception as e:  # a programming error: stop the whole run, say why
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
    """Reclaim dead owners' leases, apply --retry-failed / --force; return (reclaimed, total).

    ``--force`` does not reset anything: fetched clips are claimed for a re-fetch while they
    stay fetched, and only a verified result replaces them.
    """
    o = run.opts
    base = fq.QueueFilter(split=o.split, labels=o.labels)
    with session_scope(run.engine) as session:
        reclaimed = fq.reclaim_dead_owners(session, host, _pid_alive)
        if o.retry_failed:
            fq.reset_for_run(
                session, base, statuses=("failed_retryable", "failed_permanent"), limit=o.limit
            )
        if o.force:
            run.refetch_before = utcnow()
        total = fq.claimable_count(session, _queue_filter(run))
    return reclaimed, total if o.limit is None else min(total, o.limit)


def fetch_clips(
    settings: Settings, opts: FetchOptions, *, csv_path: Path | None = None
) -> FetchReport:
    """Import ``csv_path`` (if given, same rules as `avel clips import`), then fetch the queue."""
    _check_options(opts)
    opts = _effective(settings, opts)
    imported = import_clip_list(settings, csv_path) if csv_path is not None else None
    host = socket.gethostname().replace("_", "-").replace(":", "-")
    token = uuid.uuid4().hex[:8]
    owner = f"{host}:{os.getpid()}:{token}"
    tmp_root = settings.data_dir / "tmp" / "fetch"
    work_root = tmp_root / f"{host}_{os.getpid()}_{token}"
    try:
        _clean_stale_tmp(tmp_root, host)
        work_root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        c = fe.classify("local", f"[Errno {e.errno}] {e.strerror}")
        raise ConfigError(
            f"fetch cannot write its work folder {work_root}: {e.strerror}",
            fe.ENV_FIXES.get(c.error_class, "check the data dir or use --data-dir"),
        ) from e
    engine = open_engine(settings)
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
        if opts.preflight and total:
            pf.preflight(settings, pf.PreflightInput(opts.url_template, opts.download, total))
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
            # SIGTERM reaches only this process: end ffmpeg / the JS runtime ourselves
            n_killed = children.terminate_children()
            if n_killed:
                log.warning("ended %d child process(es) still running", n_killed)
            for t in threads:
                t.join(timeout=2.0)
        with session_scope(engine) as session:
            released = fq.release(session, owner)
            if run.trip is not None:
                fq.requeue(session, run.trip.clip_pks)
        report = _report(run, imported, started, interrupted, released, reclaimed)
    except (SQLAlchemyError, StoreError) as e:
        raise StoreError(
            f"fetch stopped: the database failed: {fe.one_line(str(e), 200)}; no clip was "
            "marked failed (leases expire and the clips are fetched by the next run)",
            fe.ENV_FIXES["store"],
        ) from e
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
        stop_fix=run.trip.fix if run.trip is not None else None,
        refetch_kept=o["refetch_kept"],
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
