"""What yt-dlp, as the toolkit configures it, has to work with on YouTube.

Since 2025.11 yt-dlp solves YouTube's JavaScript challenges (the ``n`` and signature
challenges) with an external JavaScript runtime running the EJS solver scripts; without them
YouTube answers with storyboard images only and every download fails with "Requested format is
not available". The toolkit depends on ``yt-dlp[default]`` (which brings the ``yt-dlp-ejs``
scripts) and on the ``deno`` wheel (the runtime binary), and points yt-dlp's ``js_runtimes`` at
that binary, so nothing is downloaded at run time (``remote_components`` stays empty).

:func:`inspect_ytdlp` asks yt-dlp itself: it builds a ``YoutubeDL`` with the toolkit's
options and reads what its debug header (the ``yt-dlp -v`` lines) reports.
"""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import yt_dlp

log = logging.getLogger(__name__)

SUPPORTED_RUNTIMES = ("deno", "node", "bun", "quickjs")


def wheel_deno_path() -> str | None:
    """The binary of the ``deno`` wheel installed with the toolkit, if any."""
    try:
        import deno
    except ImportError:
        return None
    try:
        return str(deno.find_deno_bin())
    except (FileNotFoundError, OSError):
        return None


def runtime_path(name: str, path: str | None) -> str | None:
    """The executable yt-dlp will run: the given path, the deno wheel's, else PATH's."""
    if path:
        return path
    if name == "deno":
        found = wheel_deno_path()
        if found:
            return found
    return shutil.which(name)


def js_runtimes_param(name: str, path: str | None) -> dict[str, dict[str, str]]:
    """yt-dlp's ``js_runtimes`` option for runtime ``name`` (at ``path``, or found)."""
    exe = runtime_path(name, path)
    return {name: {"path": exe} if exe else {}}


@dataclass(frozen=True)
class YtdlpEnvironment:
    version: str
    released: date | None  # from yt-dlp's date-based version
    js_runtime: str  # the runtime asked for
    js_runtime_path: str | None
    js_runtime_version: str | None  # None: yt-dlp found no usable runtime
    js_runtime_supported: bool
    ejs_version: str | None  # the yt-dlp-ejs scripts package; None: not installed
    debug_lines: list[str] = field(default_factory=list)  # what `yt-dlp -v` would print

    @property
    def can_solve_challenges(self) -> bool:
        return bool(self.js_runtime_version and self.js_runtime_supported and self.ejs_version)


class _Capture:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def debug(self, msg: str) -> None:
        self.lines.append(msg)

    info = warning = error = debug


def release_date(version: str) -> date | None:
    m = re.match(r"(\d{4})\.(\d{1,2})\.(\d{1,2})", version)
    if m is None:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def _ejs_version() -> str | None:
    try:
        from yt_dlp.dependencies import yt_dlp_ejs
    except ImportError:
        return None
    if yt_dlp_ejs is None:
        return None
    return str(getattr(yt_dlp_ejs, "version", None) or getattr(yt_dlp_ejs, "__version__", "?"))


def inspect_ytdlp(js_runtime: str = "deno", js_runtime_path: str | None = None) -> YtdlpEnvironment:
    """Build a YoutubeDL configured as fetch configures it and read what it reports."""
    capture = _Capture()
    params: dict[str, Any] = {
        "logger": capture,
        "verbose": True,
        "quiet": True,
        "cachedir": False,
        "js_runtimes": js_runtimes_param(js_runtime, js_runtime_path),
        "remote_components": [],
    }
    with yt_dlp.YoutubeDL(params) as ydl:  # type: ignore[arg-type]  # verbose: prints the header
        runtime = ydl._js_runtimes.get(js_runtime)
        info = runtime.info if runtime is not None else None
    version = yt_dlp.version.__version__
    lines = [ln.removeprefix("[debug] ") for ln in capture.lines]
    return YtdlpEnvironment(
        version=version,
        released=release_date(version),
        js_runtime=js_runtime,
        js_runtime_path=params["js_runtimes"][js_runtime].get("path"),
        js_runtime_version=info.version if info is not None else None,
        js_runtime_supported=bool(info is not None and info.supported is not False),
        ejs_version=_ejs_version(),
        debug_lines=[ln for ln in lines if not ln.startswith("params:")],  # params hold secrets
    )
