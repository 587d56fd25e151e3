"""Fetch preflight pieces that need no download: tools on PATH, yt-dlp's age, YouTube hosts."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from avel_annotate.errors import ConfigError
from avel_annotate.media import download as dl
from avel_annotate.media.ytdlp_env import release_date
from avel_annotate.services import fetch_preflight as pf
from avel_annotate.services.fetch import check_url_template


def test_missing_ffmpeg_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    checks = {c.name: c for c in pf.tool_checks()}
    assert not checks["ffmpeg"].ok and "apt-get install ffmpeg" in str(checks["ffmpeg"].fix)
    assert not checks["ffprobe"].ok


def test_old_yt_dlp_is_named() -> None:
    import yt_dlp

    released = release_date(yt_dlp.version.__version__)
    assert released is not None
    fresh = {c.name: c for c in pf.youtube_checks(dl.DownloadOptions(), today=released)}
    assert fresh["yt-dlp"].ok
    later = released + timedelta(days=pf.YTDLP_MAX_AGE_DAYS + 1)
    old = {c.name: c for c in pf.youtube_checks(dl.DownloadOptions(), today=later)}
    assert not old["yt-dlp"].ok and "pip install -U" in str(old["yt-dlp"].fix)
    assert "91 days old" in old["yt-dlp"].detail


@pytest.mark.parametrize(
    ("template", "youtube"),
    [
        ("https://www.youtube.com/watch?v={ytid}", True),
        ("https://youtu.be/{ytid}", True),
        ("https://m.youtube.com/watch?v={ytid}", True),
        ("http://127.0.0.1:8000/{ytid}.mp4", False),
        ("https://notyoutube.com/{ytid}", False),
    ],
)
def test_youtube_hosts(template: str, youtube: bool) -> None:
    assert pf.is_youtube(template) is youtube


def test_release_date() -> None:
    assert release_date("2026.10.26") == date(2026, 10, 26)
    assert release_date("2026.01.05.232658") == date(2026, 1, 5)
    assert release_date("nightly") is None


@pytest.mark.parametrize(
    "template",
    ["{ytid}{", "x}", "http://h/{foo}", "http://h/{ytid}/{}", "http://h/{ytid!r}{0}", "http://h/"],
)
def test_bad_url_templates(template: str) -> None:
    with pytest.raises(ConfigError):
        check_url_template(template)


@pytest.mark.parametrize(
    "template", ["https://www.youtube.com/watch?v={ytid}", "http://h/{{literal}}/{ytid}.mp4"]
)
def test_good_url_templates(template: str) -> None:
    check_url_template(template)


def test_options_reach_yt_dlp(tmp_path: Path) -> None:
    from avel_annotate.config import load_settings
    from avel_annotate.services.fetch_options import FetchOptions, effective

    settings = load_settings(
        data_dir=tmp_path, environ={"AVEL_PROXY": "http://u:pw@127.0.0.1:3128"}
    )
    opts = effective(
        settings,
        FetchOptions(
            js_runtime="node:/opt/node/bin/node",
            cookies=tmp_path / "c.txt",
            cookies_from_browser="chromium:Profile 1",
        ),
    )
    params = dl.ydl_params(tmp_path, "s", "c", None, opts.download)
    assert params["js_runtimes"] == {"node": {"path": "/opt/node/bin/node"}}
    assert params["cookiefile"] == str(tmp_path / "c.txt")
    assert params["cookiesfrombrowser"] == ("chromium", "Profile 1", None, None)
    assert params["proxy"] == "http://u:pw@127.0.0.1:3128"  # from the environment, not argv
    section = dl.ydl_params(tmp_path, "s", "c", (5.0, 15.0), opts.download)
    timeout_args = section["external_downloader_args"]["ffmpeg_i"]
    assert timeout_args == ["-rw_timeout", str(int(opts.download.socket_timeout_s * 1e6))]


def test_unknown_js_runtime_is_refused(tmp_path: Path) -> None:
    from avel_annotate.config import load_settings
    from avel_annotate.services.fetch import FetchOptions, fetch_clips
    from avel_annotate.services.store import open_store

    settings = load_settings(data_dir=tmp_path, environ={})
    with open_store(settings) as store, pytest.raises(ConfigError) as e:
        fetch_clips(store, settings, FetchOptions(js_runtime="rhino"))
    assert "deno" in e.value.one_line()


def test_an_unsupported_node_is_named() -> None:
    import shutil as sh

    node = sh.which("node")
    if node is None:
        pytest.skip("no node on PATH")
    from avel_annotate.media.ytdlp_env import inspect_ytdlp

    env = inspect_ytdlp("node", node)
    checks = {
        c.name: c
        for c in pf.youtube_checks(dl.DownloadOptions(js_runtime="node", js_runtime_path=node))
    }
    assert checks["JS runtime"].ok is env.js_runtime_supported
    if not env.js_runtime_supported:
        assert (
            "too old" in checks["JS runtime"].detail or "not found" in checks["JS runtime"].detail
        )
