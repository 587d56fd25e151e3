"""`avel fetch` as a process: SIGKILL and resume, SIGINT, two processes sharing a PostgreSQL queue.

Each run is the real console entry point in a subprocess, downloading with real yt-dlp and
ffmpeg from a local Range server that is throttled so the runs last long enough to be hit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from avel_annotate.config import Settings, load_settings
from avel_annotate.media.http_server import RangeServer
from avel_annotate.services.clips import ClipRecord, import_clip_list, list_clips
from avel_annotate.services.fetch import FetchStatus, fetch_status
from avel_annotate.services.store import open_store
from tests.helpers.media import serve_copies

IDS = [f"resume{i:05d}" for i in range(5)] + ["-resume0005"]
RATE_BPS = 700_000  # about 1.5 s per clip section


@pytest.fixture(scope="module")
def media_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = serve_copies(tmp_path_factory.mktemp("served"), IDS)
    return root


@pytest.fixture
def server(media_root: Path) -> Iterator[RangeServer]:
    with RangeServer(media_root) as srv:
        for ytid in IDS:
            srv.behave(f"{ytid}.mp4", rate_bps=RATE_BPS)
        yield srv


def _import(settings: Settings, tmp_path: Path) -> None:
    csv = tmp_path / "list.csv"
    csv.write_text("".join(f'{ytid},5,"dog barking",train\n' for ytid in IDS))
    with open_store(settings) as store:
        import_clip_list(store, settings, csv)


def _start(settings: Settings, server: RangeServer, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "AVEL_PROGRESS": "0", "AVEL_DATA_DIR": str(settings.data_dir)}
    cmd = [sys.executable, "-m", "avel_annotate.cli.main", "--db", settings.db_url, "fetch"]
    cmd += ["--url-template", server.base_url + "/{ytid}.mp4", "--workers", "2", *extra]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _status(settings: Settings) -> FetchStatus:
    with open_store(settings) as store:
        return fetch_status(store)


def _clips(settings: Settings) -> list[ClipRecord]:
    with open_store(settings) as store:
        return list_clips(store, settings)


def _wait_fetched(settings: Settings, n: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _status(settings).by_status.get("fetched", 0) >= n:
            return
        time.sleep(0.1)
    raise AssertionError(f"fewer than {n} clips fetched after {timeout_s} s")


def _assert_consistent(settings: Settings) -> None:
    """Every fetched clip has its verified files; no other file is in the clip folder."""
    expected = set()
    for c in _clips(settings):
        if c.status == "fetched":
            assert c.media_path and Path(c.media_path).stat().st_size > 0
            assert c.wav_path and Path(c.wav_path).stat().st_size == 320_078
            expected |= {Path(c.media_path), Path(c.wav_path)}
    found = {p for p in settings.clips_dir.rglob("*") if p.is_file()}
    assert found <= expected | {p for p in found if not p.exists()}
    assert found == expected, f"leftovers: {sorted(map(str, found - expected))}"


def test_sigkill_then_resume(settings: Settings, server: RangeServer, tmp_path: Path) -> None:
    _import(settings, tmp_path)
    proc = _start(settings, server)
    _wait_fetched(settings, 2)
    proc.kill()
    proc.wait(timeout=10)
    _assert_consistent(settings)
    done_before = {c.clip_id for c in _clips(settings) if c.status == "fetched"}
    assert _status(settings).by_status.get("in_progress", 0) >= 1  # killed mid-clip
    proc = _start(settings, server)
    _out, errs = proc.communicate(timeout=120)
    assert proc.returncode == 0, errs
    assert {c.status for c in _clips(settings)} == {"fetched"}
    _assert_consistent(settings)
    for clip_id in done_before:  # a complete clip is never downloaded twice
        assert server.extractions(f"{clip_id[:11]}.mp4") == 1
    assert not list((settings.data_dir / "tmp" / "fetch").iterdir())


def test_sigint_stops_cleanly(settings: Settings, server: RangeServer, tmp_path: Path) -> None:
    _import(settings, tmp_path)
    proc = _start(settings, server)
    _wait_fetched(settings, 1)
    proc.send_signal(signal.SIGINT)
    out, errs = proc.communicate(timeout=60)  # a hang fails here; how fast is benchmarks' job
    assert proc.poll() is not None  # it stopped by itself ...
    assert proc.returncode == 130, errs  # ... as interrupted
    assert "fetch interrupted" in out and "fetched" in out
    status = _status(settings)
    assert status.by_status.get("in_progress", 0) == 0  # in-flight clips went back to the queue
    assert status.by_status.get("fetched", 0) >= 1
    _assert_consistent(settings)
    assert not list((settings.data_dir / "tmp" / "fetch").iterdir())


def test_two_processes_share_a_postgres_queue(
    pg_url: str, data_dir: Path, server: RangeServer, tmp_path: Path
) -> None:
    settings = load_settings(data_dir=data_dir, db_url=pg_url, overrides={"progress": False})
    _import(settings, tmp_path)
    procs = [_start(settings, server), _start(settings, server)]
    for p in procs:
        _, errs = p.communicate(timeout=120)
        assert p.returncode == 0, errs
    assert {c.status for c in _clips(settings)} == {"fetched"}
    for ytid in IDS:  # each clip was taken by exactly one process, once
        assert server.extractions(f"{ytid}.mp4") == 1
    _assert_consistent(settings)
