"""Checks before the first download: the things that would make EVERY clip fail.

``avel fetch`` runs them once the queue is known and stops with one line naming the fix;
``avel doctor`` prints them all (plus the store, Label Studio, torch and weights). YouTube needs
more than a local server: a JavaScript runtime and the EJS solver scripts, and a yt-dlp recent
enough to know YouTube's current player (yt-dlp itself warns at 90 days).
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

from avel_annotate.config import Settings
from avel_annotate.errors import ConfigError
from avel_annotate.media import download as dl
from avel_annotate.media import ytdlp_env

YTDLP_MAX_AGE_DAYS = 90
EST_BYTES_PER_CLIP = 6 * 1024 * 1024  # normalised mp4 + wav (~1.5 MB) and the section download
MIN_FREE_BYTES = 64 * 1024 * 1024  # below this the disk counts as full
YOUTUBE_HOSTS = ("youtube.com", "youtu.be", "youtube-nocookie.com")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None

    def one_line(self) -> str:
        text = f"preflight: {self.name}: {self.detail}"
        return f"{text} ({self.fix})" if self.fix else text


@dataclass(frozen=True)
class PreflightInput:
    url_template: str
    download: dl.DownloadOptions
    queued: int  # clips this run may fetch


def is_youtube(url_template: str) -> bool:
    host = (urlsplit(url_template.replace("{ytid}", "x")).hostname or "").lower()
    return any(host == h or host.endswith("." + h) for h in YOUTUBE_HOSTS)


def tool_checks() -> list[Check]:
    out = []
    for tool in ("ffmpeg", "ffprobe"):
        path = shutil.which(tool)
        out.append(
            Check(tool, True, path)
            if path
            else Check(tool, False, "not found on PATH", "install ffmpeg: apt-get install ffmpeg")
        )
    return out


def youtube_checks(opts: dl.DownloadOptions, today: date | None = None) -> list[Check]:
    env = ytdlp_env.inspect_ytdlp(opts.js_runtime, opts.js_runtime_path)
    out = []
    rt = f"{env.js_runtime} {env.js_runtime_version} ({env.js_runtime_path})"
    if env.js_runtime_version and env.js_runtime_supported:
        out.append(Check("JS runtime", True, rt))
    else:
        what = "too old for yt-dlp" if env.js_runtime_version else "not found"
        out.append(
            Check(
                "JS runtime",
                False,
                f"{env.js_runtime} {what}: YouTube gives only images without one",
                "pip install deno (a dependency of the toolkit: reinstall it), "
                "or --js-runtime node:/path/to/node (node 22+)",
            )
        )
    out.append(
        Check("EJS scripts", True, f"yt-dlp-ejs {env.ejs_version}")
        if env.ejs_version
        else Check(
            "EJS scripts",
            False,
            "yt-dlp-ejs is not installed: the JS challenges cannot be solved",
            "pip install 'yt-dlp[default]'",
        )
    )
    age = (today or date.today()) - env.released if env.released else None
    if age is not None and age.days > YTDLP_MAX_AGE_DAYS:
        out.append(
            Check(
                "yt-dlp",
                False,
                f"{env.version} is {age.days} days old: YouTube changes faster than that",
                "pip install -U 'yt-dlp[default]'",
            )
        )
    else:
        out.append(Check("yt-dlp", True, env.version))
    return out


def probe_write(probe: Path) -> None:
    """Write 4 KiB to ``probe``, sync it to disk and remove it: a real write tells a full or
    read-only disk from a permission bit. Raises the OSError a real write meets. (A probe, not
    a file the toolkit keeps: it never goes through ``fileio``.)"""
    try:
        with probe.open("wb") as fh:
            fh.write(b"\0" * 4096)
            fh.flush()
            os.fsync(fh.fileno())
    finally:
        probe.unlink(missing_ok=True)


def disk_checks(data_dir: Path, queued: int, *, create: bool = True) -> list[Check]:
    """The data dir can be written (a real write, not a permission bit) and has room.

    ``create=False`` (doctor): a data dir that does not exist yet is judged by its nearest
    existing parent, and nothing is created.
    """
    out = []
    where = data_dir
    if not create:
        while not where.exists() and where.parent != where:
            where = where.parent
    try:
        if create:
            data_dir.mkdir(parents=True, exist_ok=True)
        probe_write(where / f".avel-write-probe-{uuid.uuid4().hex[:8]}")
        out.append(Check("data dir", True, f"{data_dir} is writable"))
    except OSError as e:
        return [
            Check(
                "data dir",
                False,
                f"{data_dir} cannot be written: {e.strerror}",
                "free space, remount it read-write, fix its permissions, or use --data-dir",
            )
        ]
    free = shutil.disk_usage(where).free
    need = queued * EST_BYTES_PER_CLIP + MIN_FREE_BYTES
    mib = 1024 * 1024
    if free < need:
        out.append(
            Check(
                "free disk",
                False,
                f"{free // mib} MiB free under {data_dir}, about {need // mib} MiB needed "
                f"for {queued} clip(s)",
                "free space, use --data-dir on a bigger disk, or fetch fewer with --limit",
            )
        )
    else:
        out.append(Check("free disk", True, f"{free // mib} MiB free ({need // mib} MiB needed)"))
    return out


def run_checks(settings: Settings, inp: PreflightInput) -> list[Check]:
    checks = tool_checks()
    if is_youtube(inp.url_template):
        checks += youtube_checks(inp.download)
    checks += disk_checks(settings.data_dir, inp.queued)
    return checks


def preflight(settings: Settings, inp: PreflightInput) -> None:
    """Raise ConfigError naming the first check that fails (the fix in its hint)."""
    for check in run_checks(settings, inp):
        if not check.ok:
            raise ConfigError(f"preflight: {check.name}: {check.detail}", check.fix)
