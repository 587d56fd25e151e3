"""The run loop of `avel fetch`: the work folder, the worker threads, lease renewal, Ctrl-C.

``workers`` threads each loop: wait for its turn (``Gate``), claim a clip, :func:`process` it.
The main thread joins them, renews the run's leases every third of the lease, and on SIGINT or
SIGTERM stops claiming, lets in-flight clips finish for ``stop_grace_s`` (a second signal cuts
that short), ends child processes and gives every unfinished clip back to the queue. While the
workers run, the signals only set a flag (:class:`StopSignals`): a KeyboardInterrupt raised into
the main thread's ``Thread.join`` can mark a running worker dead on Python < 3.13 (CPython
gh-90882), and the stop would then remove the work folder under a download. Temporary work lives in
``<data-dir>/tmp/fetch/<host>_<pid>_<token>/``, removed at the end and, for dead processes of
this host, at the start.
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from avel_annotate.config import Settings
from avel_annotate.domain import fetch_errors as fe
from avel_annotate.domain.fetch_breaker import Trip
from avel_annotate.domain.vocab import ClipStatus
from avel_annotate.errors import ConfigError
from avel_annotate.media import children
from avel_annotate.services.fetch_clip import process
from avel_annotate.services.fetch_options import FetchOptions
from avel_annotate.services.fetch_state import Gate, Run, claim, queue_filter
from avel_annotate.services.progress import ProgressBar
from avel_annotate.store import fetch_queue as fq
from avel_annotate.store.database import Store
from avel_annotate.store.engine import STORE_ERRORS
from avel_annotate.store.tables import utcnow

log = logging.getLogger(__name__)


def host_name() -> str:
    """This machine's name as it appears in lease owners (no ``_`` or ``:``, the separators)."""
    return socket.gethostname().replace("_", "-").replace(":", "-")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_tmp(root: Path, host: str) -> None:
    """Remove work folders of dead processes of this host (other hosts may share the dir)."""
    if not root.is_dir():
        return
    for path in root.iterdir():
        parts = path.name.split("_")
        dead = len(parts) == 3 and parts[1].isdigit() and not pid_alive(int(parts[1]))
        if dead and parts[0] == host:
            shutil.rmtree(path, ignore_errors=True)


def new_run(store: Store, settings: Settings, opts: FetchOptions, host: str) -> Run:
    """A run with its own lease owner and work folder (made now; stale ones removed)."""
    token = uuid.uuid4().hex[:8]
    tmp_root = settings.data_dir / "tmp" / "fetch"
    work_root = tmp_root / f"{host}_{os.getpid()}_{token}"
    try:
        clean_stale_tmp(tmp_root, host)
        work_root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        c = fe.classify("local", f"[Errno {e.errno}] {e.strerror}")
        raise ConfigError(
            f"fetch cannot write its work folder {work_root}: {e.strerror}",
            fe.ENV_FIXES.get(c.error_class, "check the data dir or use --data-dir"),
        ) from e
    stop = threading.Event()
    owner = f"{host}:{os.getpid()}:{token}"
    return Run(settings, opts, store, owner, work_root, stop, Gate(opts.rate_limit_per_hour, stop))


def prepare(run: Run, host: str) -> tuple[int, int]:
    """Reclaim dead owners' leases, apply --retry-failed / --force; return (reclaimed, total).

    ``--force`` does not reset anything: fetched clips are claimed for a re-fetch while they
    stay fetched, and only a verified result replaces them.
    """
    o = run.opts
    base = fq.QueueFilter(split=o.split, labels=o.labels)
    with run.store.session() as session:
        reclaimed = fq.reclaim_dead_owners(session, host, pid_alive)
        if o.retry_failed:
            fq.reset_for_run(
                session,
                base,
                statuses=(ClipStatus.FAILED_RETRYABLE, ClipStatus.FAILED_PERMANENT),
                limit=o.limit,
            )
        if o.force:
            run.refetch_before = utcnow()
        total = fq.claimable_count(session, queue_filter(run))
    return reclaimed, total if o.limit is None else min(total, o.limit)


def _wait_for_rate_limited(run: Run) -> bool:
    """While backing off from a rate limit, wait for the clips it put off instead of quitting."""
    with run.lock:
        if run.rate_strikes == 0:
            return False
    with run.store.session() as session:
        n, first = fq.waiting_count(session, queue_filter(run))
    if not n or first is None:
        return False
    wait_s = (first - utcnow()).total_seconds()
    if wait_s > run.opts.policy.backoff_max_s:
        return False
    run.stop.wait(min(max(wait_s, 0.05), 5.0))
    return not run.stop.is_set()


def worker(run: Run) -> None:
    """One worker thread: claim and process until the queue is empty or the run stops."""
    try:
        while not run.stop.is_set():
            if not run.gate.wait_turn():
                return
            got = claim(run)
            if got is None:
                if _wait_for_rate_limited(run):
                    continue
                return
            process(run, got)
    except STORE_ERRORS as e:  # the store went away: no clip is to blame
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


def _update_progress(bar: ProgressBar, run: Run) -> None:
    with run.lock:
        done = run.outcomes[ClipStatus.FETCHED] + run.outcomes[ClipStatus.FAILED_PERMANENT]
        failed = (
            run.outcomes[ClipStatus.FAILED_PERMANENT] + run.outcomes[ClipStatus.FAILED_RETRYABLE]
        )
    bar.set(done, failed)


class StopSignals:
    """SIGINT and SIGTERM, counted instead of raised, while the workers run (main thread only)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.count = 0
        self._old: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            self._old = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        for s, old in self._old.items():
            signal.signal(s, old)


def _supervise(
    run: Run, threads: list[threading.Thread], bar: ProgressBar, signals: StopSignals
) -> bool:
    """Join the workers, showing progress and renewing the run's leases as they work.

    Returns True when a stop signal came before they were done."""
    last_renew = time.monotonic()
    while any(t.is_alive() for t in threads):
        if signals.count:
            return True
        for t in threads:
            t.join(timeout=0.2)
        _update_progress(bar, run)
        if time.monotonic() - last_renew > run.opts.lease_s / 3:
            with run.store.session() as session:
                fq.renew_leases(session, run.owner, run.opts.lease_s)
            last_renew = time.monotonic()
    return bool(signals.count)


STOP_ROUNDS = 3  # rounds of "end the children, wait 2 s for the workers" after the grace


def _stop_after_interrupt(run: Run, threads: list[threading.Thread], signals: StopSignals) -> None:
    """Ctrl-C / SIGTERM: stop claiming, give in-flight clips a grace period (until a second
    signal), end children."""
    run.interrupted.set()
    run.stop.set()
    grace = run.opts.stop_grace_s
    log.warning(
        "interrupted: finishing clips in flight (%.0f s at most; Ctrl-C again to stop now)", grace
    )
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and signals.count < 2:
        if not any(t.is_alive() for t in threads):
            break
        for t in threads:
            t.join(timeout=min(0.2, max(0.0, deadline - time.monotonic())))
    # SIGTERM reaches only this process: end ffmpeg / the JS runtime ourselves, again while a
    # worker is still alive (one may have started a child just before it saw the stop); the
    # work folder is removed only after this, so nothing may write into it then
    for _ in range(STOP_ROUNDS):
        n_killed = children.terminate_children()
        if n_killed:
            log.warning("ended %d child process(es) still running", n_killed)
        for t in threads:
            t.join(timeout=2.0)
        if not any(t.is_alive() for t in threads):
            return
    log.warning("a fetch worker is still busy after the stop; its clip goes back to the queue")


def run_workers(run: Run, bar: ProgressBar) -> tuple[bool, int]:
    """Run the workers to the end (or Ctrl-C); give unfinished clips back.

    Returns (interrupted, clips given back)."""
    threads = [
        threading.Thread(target=worker, args=(run,), name=f"fetch-{i}", daemon=True)
        for i in range(run.opts.workers)
    ]
    with StopSignals() as signals:
        for t in threads:
            t.start()
        interrupted = _supervise(run, threads, bar, signals)
        if interrupted:
            _stop_after_interrupt(run, threads, signals)
    with run.store.session() as session:
        released = fq.release(session, run.owner)
        if run.trip is not None:
            fq.requeue(session, run.trip.clip_pks)
    return interrupted, released


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops the run like Ctrl-C does (only the main thread can install handlers)."""
    old: Any = None
    if threading.current_thread() is threading.main_thread():
        old = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)
