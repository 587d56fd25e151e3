"""Download one clip's source with yt-dlp's Python API: one extraction per clip.

Section mode (the default) downloads only ``[start_s, end_s)``: ``download_ranges`` makes yt-dlp
hand the URL to ffmpeg, which seeks with HTTP Range requests, and ``force_keyframes_at_cuts``
re-encodes so the cut is exact (without it the file starts at the previous keyframe). Full mode
downloads the whole source (the fallback after a media failure; the cut is then done locally).

Files are named from our own clip id (``outtmpl``), never from what the extractor returns, so ids
that start with ``-`` are harmless: yt-dlp gets the full URL, ffmpeg gets absolute paths.
yt-dlp's messages go to :mod:`logging`; a failure raises :class:`DownloadFailedError` carrying
yt-dlp's own message in ``detail`` (stage ``download``) for classification. Proxy passwords are
masked in everything logged or raised.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yt_dlp
from yt_dlp.utils import download_range_func

from avel_annotate.errors import MediaError
from avel_annotate.media.ytdlp_env import js_runtimes_param as _js_runtimes_param

log = logging.getLogger(__name__)

# A small mp4 with both audio and video; any single file with both; anything at all.
DEFAULT_FORMAT = (
    "best[height<=480][ext=mp4][vcodec!=none][acodec!=none]"
    "/best[height<=480][vcodec!=none][acodec!=none]/best[vcodec!=none][acodec!=none]/best"
)
_PARTIAL_SUFFIXES = (".part", ".ytdl", ".temp")
_CRED_RE = re.compile(r"([a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)


def mask_url(text: str) -> str:
    """``scheme://user:pass@host`` -> ``scheme://***@host`` anywhere in ``text``."""
    return _CRED_RE.sub(r"\1***@", text)


class DownloadFailedError(MediaError):
    """yt-dlp could not download a clip; ``detail`` is yt-dlp's message."""

    stage = "download"

    def __init__(self, clip_id: str, detail: str, hints: str = "") -> None:
        super().__init__(
            f"clip {clip_id}: download failed: {detail}",
            "see `avel fetch status`; retryable failures are retried by the next `avel fetch`",
        )
        self.clip_id = clip_id
        self.detail = detail
        self.hints = hints  # yt-dlp's warnings before the failure (why formats were missing)


@dataclass(frozen=True)
class DownloadOptions:
    cookies: Path | None = None
    cookies_from_browser: str | None = None  # BROWSER[:PROFILE], e.g. firefox, chrome:Default
    proxy: str | None = None
    format: str = DEFAULT_FORMAT
    socket_timeout_s: float = 20.0
    retries: int = 2
    sleep_requests_s: float = 0.0  # pause between the HTTP requests of one extraction
    # Encoder settings for the re-encode that force_keyframes_at_cuts makes ffmpeg do: fast and
    # near-lossless, since the normalise pass encodes again.
    section_encoder_args: tuple[str, ...] = ("-preset", "ultrafast", "-crf", "16")
    # The JavaScript runtime yt-dlp solves YouTube's challenges with (EJS scripts come from the
    # yt-dlp-ejs package): "deno" uses the `deno` wheel's binary unless a path is given.
    js_runtime: str = "deno"
    js_runtime_path: str | None = None


class _YtdlLogger:
    """Routes yt-dlp's output to logging (its errors are raised, so they log at debug)."""

    def __init__(self, clip_id: str) -> None:
        self.clip_id = clip_id
        self.warnings: list[str] = []

    def debug(self, msg: str) -> None:
        log.debug("clip %s: yt-dlp: %s", self.clip_id, mask_url(msg))

    def info(self, msg: str) -> None:
        log.debug("clip %s: yt-dlp: %s", self.clip_id, mask_url(msg))

    def warning(self, msg: str) -> None:
        if len(self.warnings) < 20:
            self.warnings.append(mask_url(msg))
        log.info("clip %s: yt-dlp warning: %s", self.clip_id, mask_url(msg))

    def error(self, msg: str) -> None:
        log.debug("clip %s: yt-dlp error: %s", self.clip_id, mask_url(msg))


def ydl_params(
    work_dir: Path,
    stem: str,
    clip_id: str,
    section: tuple[float, float] | None,
    opts: DownloadOptions,
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "outtmpl": {"default": str(work_dir.resolve() / f"{stem}.%(ext)s")},
        "format": opts.format,
        "logger": _YtdlLogger(clip_id),
        "quiet": True,
        "no_warnings": False,
        "noprogress": True,
        "noplaylist": True,
        "retries": opts.retries,
        "fragment_retries": opts.retries,
        "extractor_retries": 1,
        "socket_timeout": opts.socket_timeout_s,
        "overwrites": True,
        "continuedl": False,
        "nopart": False,
        "cachedir": False,
        "color": {"stderr": "never", "stdout": "never"},
        "js_runtimes": _js_runtimes_param(opts.js_runtime, opts.js_runtime_path),
        "remote_components": [],  # never download solver scripts at run time
    }
    if opts.sleep_requests_s:
        params["sleep_interval_requests"] = opts.sleep_requests_s
    if opts.cookies is not None:
        params["cookiefile"] = str(opts.cookies)
    if opts.cookies_from_browser:
        browser, _, profile = opts.cookies_from_browser.partition(":")
        params["cookiesfrombrowser"] = (browser.lower(), profile or None, None, None)
    if opts.proxy:
        params["proxy"] = opts.proxy
    if section is not None:
        params["download_ranges"] = download_range_func(None, [section])
        params["force_keyframes_at_cuts"] = True
        params["external_downloader_args"] = {
            # ffmpeg reads the source itself here: without a read timeout a stalled server
            # hangs it forever (microseconds; reconnect once, then fail)
            "ffmpeg_i": ["-rw_timeout", str(int(opts.socket_timeout_s * 1_000_000))],
            "ffmpeg_o": list(opts.section_encoder_args),
        }
    return params


@dataclass(frozen=True)
class Downloaded:
    path: Path
    source_duration_s: float | None  # the whole source's length as the extractor reports it


def download_source(
    url: str,
    work_dir: Path,
    stem: str,
    *,
    clip_id: str,
    section: tuple[float, float] | None,
    opts: DownloadOptions,
) -> Downloaded:
    """Download ``url`` (only ``section`` of it, when given) to ``work_dir/<stem>.<ext>``."""
    work_dir.mkdir(parents=True, exist_ok=True)
    params = ydl_params(work_dir, stem, clip_id, section, opts)
    logger: _YtdlLogger = params["logger"]
    log.debug("clip %s: downloading %s section=%s", clip_id, mask_url(url), section)
    try:
        with yt_dlp.YoutubeDL(params) as ydl:  # type: ignore[arg-type]
            info = ydl.extract_info(url, download=True)
    except yt_dlp.utils.YoutubeDLError as e:
        hints = " | ".join(logger.warnings)
        raise DownloadFailedError(clip_id, mask_url(str(e)), hints) from e
    except OSError as e:
        raise DownloadFailedError(clip_id, mask_url(f"{type(e).__name__}: {e}")) from e
    files = [
        p
        for p in work_dir.glob(f"{stem}.*")
        if p.is_file() and not p.name.endswith(_PARTIAL_SUFFIXES)
    ]
    files = [p for p in files if p.stat().st_size > 0]
    if not files:
        raise DownloadFailedError(clip_id, "yt-dlp returned but no file was written")
    duration = info.get("duration") if isinstance(info, dict) else None
    return Downloaded(
        max(files, key=lambda p: p.stat().st_size),
        float(duration) if isinstance(duration, int | float) else None,
    )
