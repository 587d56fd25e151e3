"""Environment failures stop `avel fetch` with one line naming the fix, exit 1, and condemn no
clip: a full disk (a real small tmpfs), a read-only data dir, a database that goes away; plus
the option checks that happen before any worker starts, and SIGTERM ending ffmpeg.

The tmpfs tests mount a file system, so they need root (skipped otherwise).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from avel_annotate.cli.main import run
from avel_annotate.config import Settings, load_settings
from avel_annotate.errors import ConfigError, StoreError
from avel_annotate.media.children import child_pids
from avel_annotate.media.http_server import RangeServer
from avel_annotate.services.clips import ClipRecord, import_clip_list, list_clips
from avel_annotate.services.fetch import FetchOptions, FetchReport, fetch_clips
from avel_annotate.services.store import open_store
from tests.helpers.media import serve_copies

IDS = [f"envclip{i:04d}" for i in range(4)]


@pytest.fixture(scope="module")
def media_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = serve_copies(tmp_path_factory.mktemp("served"), IDS)
    return root


@pytest.fixture
def server(media_root: Path) -> Iterator[RangeServer]:
    with RangeServer(media_root) as srv:
        yield srv


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB tmpfs: too small for one clip's download and encode."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _settings(data_dir: Path, db_path: Path) -> Settings:
    return load_settings(
        data_dir=data_dir,
        db_url=f"sqlite:///{db_path}",
        overrides={"progress": False},
        environ={},
    )


def _import(settings: Settings, tmp_path: Path, ids: list[str]) -> None:
    csv = tmp_path / f"list-{uuid.uuid4().hex[:6]}.csv"
    csv.write_text("".join(f'{ytid},5,"dog barking",train\n' for ytid in ids))
    with open_store(settings) as store:
        import_clip_list(store, settings, csv)


def _fetch(settings: Settings, opts: FetchOptions) -> FetchReport:
    with open_store(settings) as store:
        return fetch_clips(store, settings, opts)


def _list(settings: Settings) -> list[ClipRecord]:
    with open_store(settings) as store:
        return list_clips(store, settings)


def _opts(server: RangeServer, **kw: object) -> FetchOptions:
    base: dict[str, object] = {"url_template": server.base_url + "/{ytid}.mp4", "workers": 1}
    base.update(kw)
    return FetchOptions(**base)  # type: ignore[arg-type]


def _untouched(settings: Settings) -> None:
    for c in _list(settings):
        assert (c.status, c.attempts) == ("pending", 0), (c.clip_id, c.status, c.error_message)


def test_full_disk_is_caught_by_preflight(tmpfs: Path, server: RangeServer, tmp_path: Path) -> None:
    settings = _settings(tmpfs / "data", tmp_path / "avel.db")
    _import(settings, tmp_path, IDS)
    with pytest.raises(ConfigError) as e:
        _fetch(settings, _opts(server))
    assert e.value.one_line().startswith("preflight: free disk:")
    assert "--data-dir" in e.value.one_line()
    _untouched(settings)


def test_full_disk_mid_run_stops_and_condemns_no_clip(
    tmpfs: Path, server: RangeServer, tmp_path: Path
) -> None:
    settings = _settings(tmpfs / "data", tmp_path / "avel.db")
    _import(settings, tmp_path, IDS)
    report = _fetch(settings, _opts(server, preflight=False))
    assert report.stopped_reason is not None and "disk_full" in report.stopped_reason
    assert report.stop_fix is not None and "free space" in report.stop_fix
    assert (report.failed_permanent, report.failed_retryable) == (0, 0)
    assert report.fetched < len(IDS)  # the disk filled up on the way
    clips = _list(settings)
    for c in clips:  # fetched ones are whole; every other clip is untouched
        if c.status == "fetched":
            assert Path(str(c.media_path)).stat().st_size > 0
            assert Path(str(c.wav_path)).stat().st_size == 320_078
        else:
            assert (c.status, c.attempts) == ("pending", 0), (c.clip_id, c.error_message)
    (hit,) = [c for c in clips if c.error_class]
    assert hit.error_class == "disk_full"
    assert report.attempted == report.fetched + 1  # stopped at the first clip that did not fit


def test_full_disk_cli_one_line_exit_1(
    tmpfs: Path, server: RangeServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(tmpfs / "data", tmp_path / "avel.db")
    _import(settings, tmp_path, IDS[:2])
    argv = ["--data-dir", str(settings.data_dir), "--db", settings.db_url, "--no-progress"]
    code = run([*argv, "fetch", "--url-template", server.base_url + "/{ytid}.mp4"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert err[0].startswith("error: preflight: free disk:")


def test_read_only_data_dir(
    tmpfs: Path, server: RangeServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(tmpfs / "data", tmp_path / "avel.db")
    (tmpfs / "data").mkdir()
    _import(settings, tmp_path, IDS[:2])
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    with pytest.raises(ConfigError) as e:
        _fetch(settings, _opts(server))
    assert "Read-only file system" in e.value.one_line()
    with pytest.raises(ConfigError) as e2:  # without the preflight: the work folder
        _fetch(settings, _opts(server, preflight=False))
    assert "read-only" in e2.value.one_line()
    _untouched(settings)
    argv = ["--data-dir", str(settings.data_dir), "--db", settings.db_url, "--no-progress"]
    code = run([*argv, "fetch", "--url-template", server.base_url + "/{ytid}.mp4"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "Read-only file system" in err[0]


@pytest.mark.postgres
def test_database_going_away_stops_with_one_line(
    pg_url: str, server: RangeServer, tmp_path: Path, data_dir: Path
) -> None:
    import psycopg

    settings = load_settings(
        data_dir=data_dir, db_url=pg_url, overrides={"progress": False}, environ={}
    )
    _import(settings, tmp_path, IDS)
    for ytid in IDS:
        server.behave(f"{ytid}.mp4", rate_bps=400_000)  # a few seconds per clip
    name = pg_url.rsplit("/", 1)[1]
    admin = pg_url.rsplit("/", 1)[0] + "/postgres"

    def cut() -> None:  # once the first clip is in flight, the database refuses everyone
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not server.requests():
            time.sleep(0.05)
        time.sleep(0.5)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )

    import threading

    cutter = threading.Thread(target=cut)
    cutter.start()
    try:
        with pytest.raises(StoreError) as e:
            _fetch(settings, _opts(server))
    finally:
        cutter.join()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    line = e.value.one_line()
    assert "database" in line and "no clip was marked failed" in line
    assert "avel_test:" not in line  # no password in the message
    for c in _list(settings):
        assert c.status in ("pending", "in_progress", "fetched"), (c.clip_id, c.status)
        assert c.error_class is None


# --- checks before any worker starts -----------------------------------------------------


@pytest.mark.parametrize("template", ["{ytid}{", "http://h/{foo}", "http://h/{ytid}/{0}", "x}"])
def test_malformed_url_template_one_line_before_anything(
    settings: Settings, tmp_path: Path, template: str, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "l.csv"
    csv.write_text('envclip0000,5,"dog barking",train\n')
    argv = ["--data-dir", str(settings.data_dir), "--no-progress"]
    code = run([*argv, "fetch", "--csv", str(csv), "--url-template", template])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1, err
    assert err[0].startswith("error: --url-template") and "{ytid}" in err[0]
    assert not (settings.data_dir / "avel.db").exists()  # checked before the import, too


def test_proxy_password_never_in_argv(
    settings: Settings, server: RangeServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--data-dir", str(settings.data_dir), "--no-progress"]
    code = run([*argv, "fetch", "--proxy", "http://user:s3cret@127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code == 1 and "AVEL_PROXY" in err and "s3cret" not in err
    # the environment variable is the way: it reaches yt-dlp, and is masked in what is stored
    _import(settings, tmp_path, IDS[:1])
    proxied = load_settings(
        data_dir=settings.data_dir,
        overrides={"progress": False},
        environ={"AVEL_PROXY": "http://user:s3cret@127.0.0.1:9"},
    )
    assert "s3cret" not in repr(proxied)
    report = _fetch(proxied, _opts(server, preflight=False))
    assert report.fetched == 0 and server.requests() == []  # everything went to the proxy
    (clip,) = _list(settings)
    assert "s3cret" not in str(clip.error_message)


# --- SIGTERM ends the ffmpeg children ----------------------------------------------------

SCRIPT = """
import sys
from pathlib import Path
from avel_annotate.config import load_settings
from avel_annotate.media import download as dl
from avel_annotate.services.fetch import FetchOptions, fetch_clips
from avel_annotate.services.store import open_store
s = load_settings(data_dir=Path(sys.argv[1]), overrides={"progress": False}, environ={})
o = FetchOptions(url_template=sys.argv[2], workers=1, stop_grace_s=0.5, preflight=False,
                 download=dl.DownloadOptions(socket_timeout_s=120))
with open_store(s) as store:
    r = fetch_clips(store, s, o)
print("interrupted" if r.interrupted else "done", r.released, flush=True)
"""


def test_sigterm_ends_ffmpeg(
    settings: Settings, server: RangeServer, media_root: Path, tmp_path: Path
) -> None:
    size = (media_root / f"{IDS[0]}.mp4").stat().st_size
    server.behave(f"{IDS[0]}.mp4", stall_at=size // 2)  # ffmpeg waits on the socket
    _import(settings, tmp_path, IDS[:1])
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(settings.data_dir), server.base_url + "/{ytid}.mp4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "AVEL_PROGRESS": "0"},
    )
    try:
        kids: list[int] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not kids:
            kids = [p for p in child_pids(proc.pid) if _comm(p) == "ffmpeg"]
            time.sleep(0.1)
        assert kids, (
            f"ffmpeg never started: {proc.poll()} {proc.stderr.read() if proc.poll() else ''}"
        )
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert out.split()[:1] == ["interrupted"], err
    assert "ended 1 child process" in err
    for pid in kids:
        assert not Path(f"/proc/{pid}").exists() or _comm(pid) != "ffmpeg", "ffmpeg survived"
    (clip,) = _list(settings)
    assert (clip.status, clip.attempts) == ("pending", 0)


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""
