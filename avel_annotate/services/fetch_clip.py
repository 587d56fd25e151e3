"""One clip through `avel fetch`: download, normalise, verify, then commit or record why not.

:func:`process` is what a worker does with a claim. The media work runs in the claim's own work
folder with no session open; the result is staged beside its target and, in one short unit of
work, the lease is checked and the clip marked fetched while the staged files are renamed in
(the swap is atomic: a forced re-fetch keeps the old files and row until then). A failure is
classified (``domain.fetch_errors``) and recorded under the same fencing token.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from avel_annotate.domain import fetch_errors as fe
from avel_annotate.domain.fetch_breaker import Trip
from avel_annotate.domain.ids import shard_of
from avel_annotate.domain.vocab import ClipStatus
from avel_annotate.errors import MediaError
from avel_annotate.fileio import fsync_dir, fsync_file
from avel_annotate.media import download as dl
from avel_annotate.media import normalise as nm
from avel_annotate.media import probe as pr
from avel_annotate.services import fetch_preflight as pf
from avel_annotate.services.fetch_state import ClipFailure, Run
from avel_annotate.store import fetch_queue as fq
from avel_annotate.store.tables import utcnow

log = logging.getLogger(__name__)

SHORT_TOLERANCE_S = 0.1
MIN_CONTENT_S = 0.05


class LocalError(MediaError):
    """Our own file work failed (mkdir, rename): the machine's trouble, not the clip's."""

    stage = "local"

    def __init__(self, clip_id: str, e: OSError) -> None:
        super().__init__(f"clip {clip_id}: {e}")
        self.detail = f"{type(e).__name__}: [Errno {e.errno}] {e.strerror}: {e.filename}"


class StopRequestedError(MediaError):
    """Ctrl-C / SIGTERM came before this clip's next tool started: not the clip's fault."""

    stage = "local"


def _not_interrupted(run: Run, claim: fq.Claim, step: str) -> None:
    """No new download or ffmpeg once the run is interrupted: the stop kills the children it
    finds, and one started after that would outlive the run and refill its work folder."""
    if run.interrupted.is_set():
        raise StopRequestedError(f"clip {claim.clip_id}: fetch interrupted before {step}")


def targets(clips_dir: Path, clip_id: str) -> tuple[Path, Path]:
    folder = clips_dir / shard_of(clip_id)
    return folder / f"{clip_id}.mp4", folder / f"{clip_id}.wav"


def _source_ends_early(source_duration_s: float | None, start_s: int) -> bool:
    if source_duration_s is None:
        return False
    return source_duration_s - start_s < pr.CLIP_S - SHORT_TOLERANCE_S


def _download(run: Run, claim: fq.Claim, work: Path, full: bool) -> dl.Downloaded:
    url = run.opts.url_template.format(ytid=claim.ytid)
    section = None if full else (float(claim.start_s), float(claim.start_s) + pr.CLIP_S)
    return dl.download_source(
        url, work, "source", clip_id=claim.clip_id, section=section, opts=run.opts.download
    )


def content_seconds(claim: fq.Claim, got: dl.Downloaded, info: pr.MediaInfo, full: bool) -> float:
    """Seconds of the clip the download holds; refuses a source that ends before the clip and a
    short section whose source end is not known to be there (a cut transfer looks the same)."""
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
    return content_s


def produce(run: Run, claim: fq.Claim, work: Path) -> tuple[Path, Path, dict[str, Any]]:
    """Download, normalise and verify one clip in ``work``; raises MediaError subclasses."""
    full = fe.wants_full_download(claim.error_class)
    _not_interrupted(run, claim, "the download")
    got = _download(run, claim, work, full)
    info = pr.probe_media(got.path, claim.clip_id)
    pr.require_streams(info, claim.clip_id)
    content_s = content_seconds(claim, got, info, full)
    mp4, wav = work / "clip.mp4", work / "clip.wav"
    _not_interrupted(run, claim, "ffmpeg")
    nm.normalise(
        got.path,
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
        "is_short": content_s < pr.CLIP_S - SHORT_TOLERANCE_S,
        "media_bytes": verified.media_bytes,
        "wav_bytes": verified.wav_bytes,
        "media_sha256": verified.media_sha256,
        "wav_sha256": verified.wav_sha256,
    }
    return mp4, wav, values


def staged_name(target: Path, token: str) -> Path:
    """The name a verified file has beside its target until the swap: it carries the token."""
    tag = token.rsplit(":", 2)[-2:]  # run id and claim number: unique per claim
    return target.with_name(f".{target.stem}.{'-'.join(tag)}{target.suffix}.new")


def commit_fetched(run: Run, claim: fq.Claim, mp4: Path, wav: Path, values: dict[str, Any]) -> bool:
    """Stage the files beside their targets, then - in one unit of work - check the lease and
    mark fetched in one statement, and swap the staged files in (atomic renames).

    Until the swap a forced re-fetch leaves the old files and row untouched. A worker that lost
    its lease removes only its own staged files, never the clip's.
    """
    data_dir = run.settings.data_dir
    mp4_to, wav_to = targets(run.settings.clips_dir, claim.clip_id)
    values = {
        **values,
        "media_path": mp4_to.relative_to(data_dir).as_posix(),
        "wav_path": wav_to.relative_to(data_dir).as_posix(),
    }
    fsync_file(mp4)
    fsync_file(wav)
    mp4_to.parent.mkdir(parents=True, exist_ok=True)
    # files staged for this clip by earlier claims (killed between staging and swap) are
    # orphans: this claim holds the lease, so no other worker can still swap them in
    for old in mp4_to.parent.glob(f".{claim.clip_id}.*.new"):
        old.unlink(missing_ok=True)
    staged = [
        (staged_name(mp4_to, claim.token), mp4_to),
        (staged_name(wav_to, claim.token), wav_to),
    ]
    try:
        # beside the target (a move, also across file systems), so the swap is a rename
        shutil.move(mp4, staged[0][0])
        shutil.move(wav, staged[1][0])
        with run.store.session() as session:
            if not fq.mark_fetched(session, claim.id, claim.token, values):
                log.warning("clip %s: lease lost (taken over); result discarded", claim.clip_id)
                return False
            for tmp, target in staged:
                os.replace(tmp, target)
        fsync_dir(mp4_to.parent)
        return True
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)


def environment_fault(run: Run) -> str | None:
    """Whatever a tool said, is the data dir the trouble? A full disk often shows as
    "ffmpeg exited with code 1" or a truncated file, which must not condemn the clip."""
    try:
        run.work_root.mkdir(parents=True, exist_ok=True)
        pf.probe_write(run.work_root / f".probe-{threading.get_ident()}")
        free = shutil.disk_usage(run.work_root).free
    except OSError as e:
        c = fe.classify("local", f"[Errno {e.errno}] {e.strerror}")
        return c.error_class if c.kind is fe.Kind.ENVIRONMENT else "disk_full"
    return "disk_full" if free < pf.MIN_FREE_BYTES else None


def _classify(run: Run, e: MediaError) -> tuple[fe.Classification, str]:
    stage = str(getattr(e, "stage", "download"))
    detail = fe.one_line(str(getattr(e, "detail", e.message)))
    hints = fe.one_line(str(getattr(e, "hints", "")), 2000)
    c = fe.classify(stage, detail, hints)
    if c.kind is not fe.Kind.ENVIRONMENT:
        fault = environment_fault(run)
        if fault is not None:
            c = fe.Classification(fault, fe.Kind.ENVIRONMENT)
    return c, detail


def _decide(run: Run, claim: fq.Claim, c: fe.Classification) -> fe.Decision:
    with run.lock:  # read and count the strike together, so simultaneous 429s escalate
        strikes = run.rate_strikes
        if c.kind is fe.Kind.RATE_LIMIT:
            run.rate_strikes += 1
    return fe.decide(
        c,
        attempts=claim.attempts,
        full_download=fe.wants_full_download(claim.error_class),
        rate_limit_strikes=strikes,
        policy=run.opts.policy,
    )


def _count_failure(
    run: Run, claim: fq.Claim, c: fe.Classification, d: fe.Decision, detail: str
) -> Trip | None:
    environment = c.kind is fe.Kind.ENVIRONMENT
    with run.lock:
        run.errors[c.error_class] += 1
        outcome = "rate_limited" if c.kind is fe.Kind.RATE_LIMIT else d.status
        run.outcomes["given_back" if environment else outcome] += 1
        if environment:
            run.skip.add(claim.id)  # not again in this run: the next run after the fix
        run.add_failure(ClipFailure(claim.clip_id, c.error_class, d.status, detail))
        if d.stop_run:
            run.stopped_reason = (
                f"rate limited {run.rate_strikes} times in a row: stopped; run again later, "
                "or use --cookies / --proxy / a lower --rate-limit"
            )
        return run.breaker.failure(c.error_class, claim.id)


def record_failure(run: Run, claim: fq.Claim, e: MediaError) -> None:
    """Classify the failure, record it (fenced), count it, and pause or stop the run."""
    c, detail = _classify(run, e)
    if claim.refetch:
        _record_refetch_failure(run, claim, c, detail)
        return
    d = _decide(run, claim, c)
    retry_at = utcnow() + timedelta(seconds=d.retry_in_s) if d.retry_in_s is not None else None
    with run.store.session() as session:
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
    trip = _count_failure(run, claim, c, d, detail)
    log.info("clip %s: %s (%s): %s", claim.clip_id, d.status, c.error_class, detail)
    if d.pause_host_s:
        run.gate.pause(d.pause_host_s)
    if trip is not None:
        trip_breaker(run, trip)
    if d.stop_run:
        run.stop.set()


def _record_refetch_failure(run: Run, claim: fq.Claim, c: fe.Classification, detail: str) -> None:
    """A forced re-fetch failed: the clip keeps its old files and row, whatever the cause."""
    with run.store.session() as session:
        fq.end_refetch(session, claim.id, claim.token)
    with run.lock:
        run.skip.add(claim.id)
        run.errors[c.error_class] += 1
        run.outcomes["refetch_kept"] += 1
        run.add_failure(ClipFailure(claim.clip_id, c.error_class, "fetched (kept)", detail))
        trip = run.breaker.failure(c.error_class, claim.id)
    log.info("clip %s: re-fetch failed (%s), old kept: %s", claim.clip_id, c.error_class, detail)
    if trip is not None:
        trip_breaker(run, trip)


def trip_breaker(run: Run, trip: Trip) -> None:
    """The breaker opened: stop claiming; the streak's clips go back to the queue."""
    with run.lock:
        run.stopped_reason = trip.reason
        run.trip = trip
    log.warning("fetch %s", trip.one_line())
    run.stop.set()


def _fetched(run: Run, claim: fq.Claim, is_short: bool) -> None:
    with run.lock:
        run.outcomes[ClipStatus.FETCHED] += 1
        run.outcomes["short"] += int(is_short)
        run.rate_strikes = 0
        run.breaker.success()
    log.info("clip %s: fetched%s", claim.clip_id, " (short)" if is_short else "")


def process(run: Run, claim: fq.Claim) -> None:
    """One claimed clip, start to end; its work folder is removed whatever happens."""
    work = run.work_root / claim.clip_id
    try:
        try:
            try:
                mp4, wav, values = produce(run, claim, work)
            except OSError as oe:
                raise LocalError(claim.clip_id, oe) from oe
        except MediaError as e:
            if run.interrupted.is_set():  # e.g. ffmpeg killed by the same Ctrl-C: not the clip's
                with run.store.session() as session:
                    fq.release(session, run.owner, [claim.id])
                return
            record_failure(run, claim, e)
            return
        try:
            committed = commit_fetched(run, claim, mp4, wav, values)
        except OSError as oe:
            record_failure(run, claim, LocalError(claim.clip_id, oe))
            return
        if committed:
            _fetched(run, claim, bool(values["is_short"]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        with run.lock:
            run.in_flight.discard(claim.id)
