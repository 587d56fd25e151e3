"""`fetch_clips` with real yt-dlp and real ffmpeg against a local Range-honouring HTTP server.

The server serves WHOLE source files (``<ytid>.mp4``); the clip section starts at ``start_s``
inside them (20-s sources, ``start_s=5``), so the section download is what is being tested.
"""

from __future__ import annotations

import shutil
import wave
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from avel_annotate.config import Settings
from avel_annotate.domain.fetch_errors import RetryPolicy
from avel_annotate.fileio import sha256_file
from avel_annotate.media import download as dl
from avel_annotate.media import normalise as nm
from avel_annotate.media import probe as pr
from avel_annotate.media.http_server import RangeServer
from avel_annotate.media.probe import probe_media
from avel_annotate.services.clips import list_clips
from avel_annotate.services.fetch import FetchOptions, fetch_clips, fetch_status
from avel_annotate.services.store import Store, open_store
from tests.helpers.media import make_source

GOOD = ["goodclip001", "-dashstart1", "slowclip001", "ratelimit01", "truncated01", "goodclip002"]
GOOD += ["goodclip003", "goodclip004", "ratelimit02"]


@pytest.fixture(scope="module")
def media_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("served")
    first = make_source(root / f"{GOOD[0]}.mp4", 20)
    for ytid in GOOD[1:]:
        shutil.copy(first, root / f"{ytid}.mp4")
    make_source(root / "shortclip01.mp4", 8)
    make_source(root / "noaudioclip.mp4", 20, audio=False)
    return root


@pytest.fixture
def server(media_root: Path) -> Iterator[RangeServer]:
    with RangeServer(media_root) as srv:
        yield srv


def write_list(path: Path, rows: list[tuple[str, int]]) -> Path:
    path.write_text("".join(f'{ytid},{start},"dog barking",train\n' for ytid, start in rows))
    return path


def opts(server: RangeServer, **kw: object) -> FetchOptions:
    base: dict[str, object] = {"url_template": server.base_url + "/{ytid}.mp4", "workers": 2}
    base.update(kw)
    return FetchOptions(**base)  # type: ignore[arg-type]


def clips_by_id(settings: Settings) -> dict[str, object]:
    with open_store(settings) as store:
        return {c.clip_id: c for c in list_clips(store, settings)}


def files_under(path: Path) -> list[str]:
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())


def test_fetch_happy_short_404_no_audio_and_rerun(
    settings: Settings, store: Store, server: RangeServer, tmp_path: Path
) -> None:
    csv = write_list(
        tmp_path / "vggsound.csv",
        [
            ("goodclip001", 5),
            ("-dashstart1", 5),
            ("shortclip01", 3),
            ("noaudioclip", 5),
            ("missingclip", 5),
        ],
    )
    report = fetch_clips(store, settings, opts(server), csv_path=csv)
    assert report.imported is not None and report.imported.clips_new == 5
    assert (report.fetched, report.short, report.failed_permanent) == (3, 1, 2)
    clips = {c.clip_id: c for c in list_clips(store, settings)}
    for clip_id in ("goodclip001_000005", "-dashstart1_000005", "shortclip01_000003"):
        c = clips[clip_id]
        assert c.status == "fetched"
        assert c.media_path == str(settings.data_dir / f"clips/{clip_id[:2]}/{clip_id}.mp4")
        mp4, wav = Path(c.media_path), Path(str(c.wav_path))
        info = probe_media(mp4, clip_id)
        assert (info.video_codec, info.audio_codec) == ("h264", "aac")
        assert abs(info.duration_s - 10.0) <= 0.1
        with wave.open(str(wav)) as w:
            assert (w.getframerate(), w.getnchannels(), w.getnframes()) == (16000, 1, 160000)
    short = clips["shortclip01_000003"]
    assert short.is_short and not clips["goodclip001_000005"].is_short
    assert clips["noaudioclip_000005"].status == "failed_permanent"
    assert clips["noaudioclip_000005"].error_class == "no_audio"
    missing = clips["missingclip_000005"]
    assert (missing.status, missing.error_class) == ("failed_permanent", "not_found")
    assert "HTTP Error 404" in str(missing.error_message)
    # the section download really used Range requests
    assert any(r.status == 206 for r in server.requests("goodclip001.mp4"))
    # stored facts match the files; nothing else in the clip folder or temp folder
    status = fetch_status(store)
    assert status.by_status == {"fetched": 3, "failed_permanent": 2}
    assert status.by_error_class == {"no_audio": 1, "not_found": 1}
    assert files_under(settings.clips_dir) == sorted(
        f"{cid[:2]}/{cid}.{ext}"
        for cid in ("goodclip001_000005", "-dashstart1_000005", "shortclip01_000003")
        for ext in ("mp4", "wav")
    )
    assert files_under(settings.data_dir / "tmp") == []
    # a rerun downloads nothing again
    before = len(server.requests())
    again = fetch_clips(store, settings, opts(server))
    assert (again.attempted, again.fetched) == (0, 0)
    assert len(server.requests()) == before


def test_short_source_checked_with_full_download(
    settings: Settings, store: Store, server: RangeServer, tmp_path: Path
) -> None:
    """The generic extractor knows no duration: a full download confirms a short section."""
    csv = write_list(tmp_path / "l.csv", [("shortclip01", 3)])
    fetch_clips(store, settings, opts(server), csv_path=csv)
    from avel_annotate.store.tables import Clip

    with store.session() as s:
        clip = s.query(Clip).one()
        assert (clip.status, clip.is_short, clip.attempts) == ("fetched", True, 2)
        assert clip.source_duration_s == pytest.approx(5.0, abs=0.1)
        assert clip.media_sha256 == sha256_file(settings.data_dir / str(clip.media_path))
        assert clip.media_path == "clips/sh/shortclip01_000003.mp4"
    # section: one extraction; full: one extraction + the body GET of the whole file
    assert server.extractions("shortclip01.mp4") == 3


def test_truncated_source_is_never_marked_fetched(
    settings: Settings, store: Store, server: RangeServer, media_root: Path, tmp_path: Path
) -> None:
    size = (media_root / "truncated01.mp4").stat().st_size
    server.behave("truncated01.mp4", truncate_at=int(size * 0.45))
    csv = write_list(tmp_path / "l.csv", [("truncated01", 5)])
    report = fetch_clips(store, settings, opts(server), csv_path=csv)
    assert report.fetched == 0
    (clip,) = list_clips(store, settings)
    assert clip.status in ("failed_retryable", "failed_permanent")
    assert clip.error_class == "network"  # the full download saw the missing bytes
    assert files_under(settings.clips_dir) == []
    assert files_under(settings.data_dir / "tmp") == []


def test_slow_server(settings: Settings, store: Store, server: RangeServer, tmp_path: Path) -> None:
    server.behave("slowclip001.mp4", rate_bps=600_000)
    csv = write_list(tmp_path / "l.csv", [("slowclip001", 5)])
    report = fetch_clips(store, settings, opts(server), csv_path=csv)
    assert report.fetched == 1


def test_rate_limit_pauses_all_workers(
    settings: Settings, store: Store, server: RangeServer, tmp_path: Path
) -> None:
    server.behave("ratelimit01.mp4", status=429, times=1)
    ids = ["ratelimit01", "goodclip002", "goodclip003", "goodclip004"]
    csv = write_list(tmp_path / "l.csv", [(i, 5) for i in ids])
    policy = RetryPolicy(backoff_base_s=1.5, backoff_max_s=10)
    report = fetch_clips(store, settings, opts(server, policy=policy), csv_path=csv)
    assert report.fetched == 4 and report.rate_limited == 1
    assert report.host_pauses_s == [1.5]
    (hit,) = [r for r in server.requests() if r.status == 429]
    # no new extraction started while the host was paused (a worker already past its gate when
    # the 429 came may start its clip within a few milliseconds of it)
    starts = [r for r in server.requests() if r.range is None and r.status != 429]
    assert not [r for r in starts if hit.t + 0.3 < r.t < hit.t + 1.4]
    assert len([r for r in starts if hit.t < r.t < hit.t + 1.4]) <= 1
    clip = {c.clip_id: c for c in list_clips(store, settings)}["ratelimit01_000005"]
    assert clip.status == "fetched" and clip.attempts == 1  # the 429 did not use up an attempt


def test_persistent_rate_limit_stops_without_burning_clips(
    settings: Settings, store: Store, server: RangeServer, tmp_path: Path
) -> None:
    server.behave("ratelimit01.mp4", status=429)
    server.behave("ratelimit02.mp4", status=429)
    csv = write_list(tmp_path / "l.csv", [("ratelimit01", 5), ("ratelimit02", 5)])
    policy = RetryPolicy(backoff_base_s=0.3, backoff_max_s=2, max_rate_limit_strikes=3)
    report = fetch_clips(store, settings, opts(server, policy=policy), csv_path=csv)
    assert report.stopped_reason is not None and "rate limited" in report.stopped_reason
    pauses = report.host_pauses_s  # exponential back-off: each pause longer than the last
    assert len(pauses) >= 2 and all(b > a for a, b in pairwise(pauses))
    for c in list_clips(store, settings):
        assert (c.status, c.error_class, c.attempts) == ("failed_retryable", "rate_limited", 0)
    assert report.next_retry_at is not None


def test_force_and_retry_failed(
    settings: Settings, store: Store, server: RangeServer, tmp_path: Path
) -> None:
    csv = write_list(tmp_path / "l.csv", [("goodclip001", 5), ("missingclip", 5)])
    fetch_clips(store, settings, opts(server), csv_path=csv)
    assert server.extractions("goodclip001.mp4") == 1
    server.behave("missingclip.mp4", status=404)
    r = fetch_clips(store, settings, opts(server, retry_failed=True))
    assert (r.attempted, r.failed_permanent) == (1, 1)
    assert server.extractions("goodclip001.mp4") == 1
    r = fetch_clips(store, settings, opts(server, force=True, limit=1))
    assert (r.attempted, r.fetched) == (1, 1)
    assert server.extractions("goodclip001.mp4") == 2


def test_no_unit_of_work_is_open_while_a_clip_downloads_or_encodes(
    settings: Settings, store: Store, server: RangeServer, tmp_path: Path, monkeypatch
) -> None:
    """The network and ffmpeg run with no session open (on SQLite one would hold the write
    lock); one worker, so another worker's claim cannot be counted."""
    from avel_annotate.services import fetch_clip

    seen: list[tuple[str, int]] = []

    def watch(name: str, real: Any) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            seen.append((name, store.open_sessions))
            return real(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(fetch_clip.dl, "download_source", watch("download", dl.download_source))
    monkeypatch.setattr(fetch_clip.nm, "normalise", watch("normalise", nm.normalise))
    monkeypatch.setattr(fetch_clip.pr, "probe_media", watch("probe", pr.probe_media))
    csv = write_list(tmp_path / "l.csv", [("goodclip001", 5), ("missingclip", 5)])
    report = fetch_clips(store, settings, opts(server, workers=1), csv_path=csv)
    assert (report.fetched, report.failed_permanent) == (1, 1)
    assert {name for name, _ in seen} == {"download", "probe", "normalise"}
    assert [n for _, n in seen] == [0] * len(seen)
    assert store.open_sessions == 0
