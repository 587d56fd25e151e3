"""Fetch under faults, with real yt-dlp, ffmpeg and the local Range server.

- a source that answers like YouTube without a JS solver (storyboard images only): the circuit
  breaker stops the run, no clip is condemned, the re-run after the fix fetches them all;
- a forced re-fetch whose source is gone keeps the old files and row;
- a worker that lost its lease can neither commit nor delete (SQLite and PostgreSQL);
- a source that stalls mid-transfer times out and stays retryable;
- the JS runtime and EJS scripts yt-dlp reports, configured as the toolkit configures it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from avel_annotate.config import Settings
from avel_annotate.domain.fetch_errors import RetryPolicy
from avel_annotate.errors import ConfigError, MediaError
from avel_annotate.fileio import sha256_file
from avel_annotate.media import download as dl
from avel_annotate.media.http_server import RangeServer
from avel_annotate.media.ytdlp_env import inspect_ytdlp, wheel_deno_path
from avel_annotate.services import fetch_clip, fetch_state
from avel_annotate.services.clips import import_clip_list, list_clips
from avel_annotate.services.fetch import FetchOptions, fetch_clips
from avel_annotate.services.store import Store, open_store
from avel_annotate.store import fetch_queue as fq
from tests.helpers.media import serve_copies

IDS = [f"faultclip{i:02d}" for i in range(5)]

# DASH manifest with only an image (storyboard) track: what YouTube's answer boils down to when
# yt-dlp cannot solve its JavaScript challenges - yt-dlp warns "Only images are available" and
# fails with "Requested format is not available".
STORYBOARD_MPD = """<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT20S"
     minBufferTime="PT2S" profiles="urn:mpeg:dash:profile:isoff-on-demand:2011">
  <Period>
    <AdaptationSet id="1" contentType="image" mimeType="image/jpeg">
      <SegmentTemplate media="tile_$Number$.jpg" duration="10" startNumber="1"/>
      <Representation id="storyboard" bandwidth="1000" width="160" height="90">
        <EssentialProperty schemeIdUri="http://dashif.org/thumbnail_tile" value="5x5"/>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
"""


@pytest.fixture(scope="module")
def media_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = serve_copies(tmp_path_factory.mktemp("served"), IDS)
    for ytid in IDS:
        (root / f"{ytid}.mpd").write_text(STORYBOARD_MPD)
    return root


@pytest.fixture
def server(media_root: Path) -> Iterator[RangeServer]:
    with RangeServer(media_root) as srv:
        yield srv


def _import(settings: Settings, tmp_path: Path, ids: list[str]) -> None:
    csv = tmp_path / "list.csv"
    csv.write_text("".join(f'{ytid},5,"dog barking",train\n' for ytid in ids))
    with open_store(settings) as store:
        import_clip_list(store, settings, csv)


def _opts(server: RangeServer, ext: str = "mp4", **kw: object) -> FetchOptions:
    base: dict[str, object] = {"url_template": server.base_url + "/{ytid}." + ext, "workers": 1}
    base.update(kw)
    return FetchOptions(**base)  # type: ignore[arg-type]


def _by_id(settings: Settings) -> dict[str, Any]:
    with open_store(settings) as store:
        return {c.clip_id: c for c in list_clips(store, settings)}


def _rows(settings: Settings) -> dict[str, dict[str, Any]]:
    """The stored rows as the store has them (fetched_at and checksums included)."""
    with open_store(settings) as store, store.session() as s:
        cols = ("status", "fetched_at", "media_sha256", "wav_sha256", "attempts", "lease_owner")
        return {c.clip_id: {k: getattr(c, k) for k in cols} for c in s.query(fq.Clip).all()}


# --- the JS runtime, as yt-dlp reports it --------------------------------------------------


def test_ytdlp_reports_the_bundled_js_runtime_and_ejs() -> None:
    env = inspect_ytdlp()
    deno = wheel_deno_path()
    assert deno is not None, "the deno wheel is a dependency: its binary must be installed"
    assert env.js_runtime_path == deno
    runtimes = [ln for ln in env.debug_lines if ln.startswith("JS runtimes:")]
    assert runtimes and f"deno-{env.js_runtime_version}" in runtimes[0]
    assert "none" not in runtimes[0]
    libs = [ln for ln in env.debug_lines if ln.startswith("Optional libraries:")]
    assert libs and f"yt_dlp_ejs-{env.ejs_version}" in libs[0]
    assert env.can_solve_challenges
    # the options every download gets carry the same runtime and allow no remote scripts
    params = dl.ydl_params(Path("/tmp"), "x", "x", None, dl.DownloadOptions())
    assert params["js_runtimes"] == {"deno": {"path": deno}}
    assert params["remote_components"] == []


def test_a_missing_runtime_stops_a_youtube_fetch_before_any_download(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    env = inspect_ytdlp("bun", "/nonexistent/bun")
    assert env.js_runtime_version is None and not env.can_solve_challenges
    _import(settings, tmp_path, IDS[:1])
    opts = FetchOptions(js_runtime="bun:/nonexistent/bun")  # the YouTube template
    with pytest.raises(ConfigError) as e:
        fetch_clips(store, settings, opts)
    assert "preflight: JS runtime" in e.value.one_line() and "deno" in e.value.one_line()
    (clip,) = list_clips(store, settings)
    assert (clip.status, clip.attempts) == ("pending", 0)


# --- the circuit breaker against a source without a solver ---------------------------------


def test_storyboard_only_source_trips_the_breaker_and_the_rerun_fetches(
    settings: Settings, store: Store, server: RangeServer, tmp_path: Path
) -> None:
    _import(settings, tmp_path, IDS)
    report = fetch_clips(store, settings, _opts(server, "mpd"))
    assert report.stopped_reason is not None and "js_challenge" in report.stopped_reason
    assert report.stop_fix is not None and "deno" in report.stop_fix
    assert report.fetched == report.failed_permanent == report.failed_retryable == 0
    assert report.attempted == 3  # the breaker's threshold: the other clips were never tried
    for c in list_clips(store, settings):  # nothing condemned, nothing counted against the clip
        assert (c.status, c.attempts) == ("pending", 0), c.clip_id
    tried = [c for c in list_clips(store, settings) if c.error_class == "js_challenge"]
    assert len(tried) == 3 and "Requested format is not available" in str(tried[0].error_message)
    # the fix (here: a source with real formats); no --retry-failed needed
    again = fetch_clips(store, settings, _opts(server, "mp4", workers=2))
    assert (again.fetched, again.stopped_reason) == (5, None)
    assert {c.status for c in list_clips(store, settings)} == {"fetched"}


def test_cli_stop_line_and_exit_code(
    settings: Settings, server: RangeServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from avel_annotate.cli.main import run

    _import(settings, tmp_path, IDS[:3])
    template = server.base_url + "/{ytid}.mpd"
    argv = ["--data-dir", str(settings.data_dir), "--db", settings.db_url, "--no-progress"]
    code = run([*argv, "fetch", "--url-template", template, "--workers", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err[-1].startswith("error: fetch stopped: 3 clips in a row failed with js_challenge")
    assert "Traceback" not in "\n".join(err)


# --- replace, never delete first ---------------------------------------------------------


def test_forced_refetch_of_a_gone_source_keeps_the_clip(
    settings: Settings, store: Store, server: RangeServer, tmp_path: Path
) -> None:
    _import(settings, tmp_path, IDS[:2])
    assert fetch_clips(store, settings, _opts(server)).fetched == 2
    gone_id, ok_id = f"{IDS[0]}_000005", f"{IDS[1]}_000005"
    before = _rows(settings)
    files = {c.clip_id: (Path(c.media_path), Path(c.wav_path)) for c in list_clips(store, settings)}
    sums = {cid: tuple(sha256_file(p) for p in pair) for cid, pair in files.items()}
    server.behave(f"{IDS[0]}.mp4", status=404)
    r = fetch_clips(store, settings, _opts(server, force=True))
    assert (r.attempted, r.fetched, r.refetch_kept, r.failed_permanent) == (2, 1, 1, 0)
    after = _rows(settings)
    assert after[gone_id] == before[gone_id]  # the row exactly as it was, lease dropped
    assert tuple(sha256_file(p) for p in files[gone_id]) == sums[gone_id]
    assert after[ok_id]["status"] == "fetched"
    assert after[ok_id]["fetched_at"] > before[ok_id]["fetched_at"]
    # offline: nothing answers at all - every clip keeps its row and files
    offline = FetchOptions(url_template="http://127.0.0.1:9/{ytid}.mp4", force=True, workers=1)
    kept = _rows(settings)
    r = fetch_clips(store, settings, offline)
    assert (r.fetched, r.refetch_kept) == (0, 2)
    assert _rows(settings) == kept
    for cid, pair in files.items():
        assert all(p.is_file() for p in pair), cid
    assert [p for p in settings.clips_dir.rglob("*") if p.name.endswith(".new")] == []


# --- fencing -----------------------------------------------------------------------------


def test_a_worker_that_lost_its_lease_neither_commits_nor_deletes(
    any_settings: Settings, any_store: Store, server: RangeServer, tmp_path: Path
) -> None:
    settings, store = any_settings, any_store
    _import(settings, tmp_path, IDS[:1])
    stale_opts = _opts(server)
    stop = threading.Event()
    work = settings.data_dir / "tmp" / "fetch" / "stale"
    stale = fetch_state.Run(
        settings, stale_opts, store, "oldhost:1:dead", work, stop, fetch_state.Gate(None, stop)
    )
    claim = fetch_state.claim(stale)  # worker A claims, then is suspended past its lease
    assert claim is not None and claim.token == "oldhost:1:dead:1"
    mp4, wav, values = fetch_clip.produce(stale, claim, work / claim.clip_id)
    with store.session() as s:  # its lease expires
        s.query(fq.Clip).update({"lease_expires_at": fq.utcnow() - fq.timedelta(seconds=1)})
    report = fetch_clips(store, settings, _opts(server))  # worker B takes the clip over
    assert report.fetched == 1
    (clip,) = list_clips(store, settings)
    row = _rows(settings)
    good = (sha256_file(Path(str(clip.media_path))), sha256_file(Path(str(clip.wav_path))))
    # A wakes up: its commit is refused in the same statement that would write
    assert fetch_clip.commit_fetched(stale, claim, mp4, wav, values) is False
    # ... and its failure path changes nothing and deletes nothing
    fetch_clip.record_failure(stale, claim, MediaError("clip: ffmpeg exited with code 1"))
    (after,) = list_clips(store, settings)
    assert (after.status, after.attempts) == ("fetched", clip.attempts)
    assert _rows(settings) == row
    mp4_now, wav_now = Path(str(after.media_path)), Path(str(after.wav_path))
    assert (sha256_file(mp4_now), sha256_file(wav_now)) == good
    names = sorted(p.name for p in settings.clips_dir.rglob("*") if p.is_file())
    assert names == [f"{clip.clip_id}.mp4", f"{clip.clip_id}.wav"]


# --- stalls ------------------------------------------------------------------------------


def test_an_interrupted_run_starts_no_download_and_gives_the_clip_back(
    settings: Settings, store: Store, server: RangeServer, tmp_path: Path
) -> None:
    """A worker that sees the stop after its claim starts no tool (one started after the stop
    killed the children would outlive the run and refill its removed work folder)."""
    _import(settings, tmp_path, IDS[:1])
    stop = threading.Event()
    work = settings.data_dir / "tmp" / "fetch" / "stopping"
    run = fetch_state.Run(
        settings, _opts(server), store, "host:1:run", work, stop, fetch_state.Gate(None, stop)
    )
    claim = fetch_state.claim(run)
    assert claim is not None
    before = len(server.requests())
    run.interrupted.set()
    fetch_clip.process(run, claim)
    assert len(server.requests()) == before  # nothing was downloaded
    assert not work.exists()
    (clip,) = list_clips(store, settings)
    assert (clip.status, clip.attempts, clip.error_class) == ("pending", 0, None)


def test_a_stalled_source_times_out_and_stays_retryable(
    settings: Settings, store: Store, server: RangeServer, media_root: Path, tmp_path: Path
) -> None:
    size = (media_root / f"{IDS[0]}.mp4").stat().st_size
    server.behave(f"{IDS[0]}.mp4", stall_at=size // 3)
    _import(settings, tmp_path, IDS[:2])
    download = dl.DownloadOptions(socket_timeout_s=1.5, retries=0)
    policy = RetryPolicy(retry_delay_s=0.1)
    report = fetch_clips(store, settings, _opts(server, download=download, policy=policy))
    clips = _by_id(settings)
    stalled = clips[f"{IDS[0]}_000005"]
    assert stalled.status == "failed_retryable", stalled.error_message
    assert stalled.error_class == "network"
    assert clips[f"{IDS[1]}_000005"].status == "fetched"
    assert report.fetched == 1


@pytest.mark.parametrize("fault", ["forbidden", "dns"])
def test_403_bursts_and_dns_stop_the_run_without_verdicts(
    settings: Settings, store: Store, server: RangeServer, tmp_path: Path, fault: str
) -> None:
    _import(settings, tmp_path, IDS)
    if fault == "forbidden":
        for ytid in IDS:
            server.behave(f"{ytid}.mp4", status=403)
        opts = _opts(server)
    else:  # a name that never resolves (RFC 2606)
        opts = FetchOptions(url_template="http://avel-fetch-test.invalid/{ytid}.mp4", workers=1)
    report = fetch_clips(store, settings, opts)
    assert report.stopped_reason is not None and fault in report.stopped_reason
    assert report.attempted == 5 and report.failed_permanent == report.failed_retryable == 0
    for c in list_clips(store, settings):
        assert (c.status, c.attempts, c.error_class) == ("pending", 0, fault)
    if fault == "forbidden":  # the host lets us in again: the next run fetches them all
        for ytid in IDS:
            server.behave(f"{ytid}.mp4")
        assert fetch_clips(store, settings, _opts(server, workers=2)).fetched == 5


def test_files_staged_by_a_killed_claim_are_removed_at_the_next_commit(
    settings: Settings, store: Store, server: RangeServer, tmp_path: Path
) -> None:
    _import(settings, tmp_path, IDS[:1])
    clip_id = f"{IDS[0]}_000005"
    shard = settings.clips_dir / clip_id[:2]
    shard.mkdir(parents=True)
    orphans = [shard / f".{clip_id}.deadbeef-3.mp4.new", shard / f".{clip_id}.deadbeef-3.wav.new"]
    for p in orphans:
        p.write_bytes(b"half a swap")
    other = shard / f".{IDS[1]}_000005.deadbeef-4.mp4.new"  # another clip's: not ours to touch
    other.write_bytes(b"x")
    assert fetch_clips(store, settings, _opts(server)).fetched == 1
    assert not any(p.exists() for p in orphans) and other.exists()
    assert sorted(p.name for p in shard.iterdir() if not p.name.startswith(".")) == [
        f"{clip_id}.mp4",
        f"{clip_id}.wav",
    ]
