"""What one `avel fetch` run is told: :class:`FetchOptions` (the defaults, written once) and the
checks that refuse a bad option before anything is claimed or downloaded."""

from __future__ import annotations

import string
from dataclasses import dataclass, field, replace
from pathlib import Path

from avel_annotate.config import Settings
from avel_annotate.domain import fetch_errors as fe
from avel_annotate.errors import ConfigError
from avel_annotate.media import download as dl
from avel_annotate.media import normalise as nm
from avel_annotate.media import ytdlp_env

NormaliseSettings = nm.NormaliseSettings  # re-exported for the CLI's --encoder-preset
SUPPORTED_JS_RUNTIMES = ytdlp_env.SUPPORTED_RUNTIMES
YOUTUBE_URL_TEMPLATE = "https://www.youtube.com/watch?v={ytid}"


@dataclass(frozen=True)
class FetchOptions:
    limit: int | None = None
    split: str | None = None
    labels: tuple[str, ...] = ()
    workers: int = 2
    url_template: str = YOUTUBE_URL_TEMPLATE
    cookies: Path | None = None
    cookies_from_browser: str | None = None
    proxy: str | None = None  # else the settings' (AVEL_PROXY / config.toml)
    js_runtime: str | None = None  # NAME[:PATH]; default: the deno wheel
    rate_limit_per_hour: float | None = None
    retry_failed: bool = False
    force: bool = False
    preflight: bool = True
    lease_s: float = 600.0
    stop_grace_s: float = 5.0
    policy: fe.RetryPolicy = field(default_factory=fe.RetryPolicy)
    download: dl.DownloadOptions = field(default_factory=dl.DownloadOptions)
    normalise: nm.NormaliseSettings = field(default_factory=nm.NormaliseSettings)


def check_url_template(template: str) -> None:
    """``{ytid}`` and nothing else between braces (``{{`` / ``}}`` for literal braces)."""
    shown = fe.mask_secrets(template)
    hint = "write it like https://www.youtube.com/watch?v={ytid} ({{ and }} for literal braces)"
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
        template.format(ytid="x")
    except (ValueError, IndexError, KeyError) as e:
        raise ConfigError(f"--url-template {shown!r} is malformed: {e}", hint) from e
    others = sorted(names - {"ytid"})
    if others:
        fields_shown = ", ".join("{" + f + "}" for f in others)
        raise ConfigError(f"--url-template {shown!r} has unknown field(s) {fields_shown}", hint)
    if "ytid" not in names:
        raise ConfigError(f"--url-template {shown!r} has no {{ytid}}", hint)


def check_proxy_argument(proxy: str | None) -> None:
    """A password on the command line is readable by every local user (`ps`): refuse it."""
    if proxy and fe.mask_secrets(proxy) != proxy:
        raise ConfigError(
            "--proxy holds a password, which every local user can read in `ps`",
            "put the proxy URL in the AVEL_PROXY environment variable or `proxy` in config.toml",
        )


def effective(settings: Settings, o: FetchOptions) -> FetchOptions:
    """Fold cookies, proxy and JS runtime into the yt-dlp options the workers use."""
    name, _, path = (o.js_runtime or o.download.js_runtime).partition(":")
    download = replace(
        o.download,
        cookies=o.cookies or o.download.cookies,
        cookies_from_browser=o.cookies_from_browser or o.download.cookies_from_browser,
        proxy=o.proxy or settings.proxy or o.download.proxy,
        js_runtime=name,
        js_runtime_path=path or o.download.js_runtime_path,
    )
    return replace(o, download=download, proxy=download.proxy)


def check_options(o: FetchOptions) -> None:
    """Refuse options that would make every clip fail, with the fix."""
    check_url_template(o.url_template)
    if o.workers < 1:
        raise ConfigError(f"--workers {o.workers} must be at least 1")
    if o.cookies is not None and not o.cookies.is_file():
        raise ConfigError(f"--cookies {o.cookies}: no such file", "export cookies.txt first")
    if o.rate_limit_per_hour is not None and o.rate_limit_per_hour <= 0:
        raise ConfigError("--rate-limit must be a positive number of clips per hour")
    if o.js_runtime is not None:
        name = o.js_runtime.partition(":")[0]
        if name not in SUPPORTED_JS_RUNTIMES:
            raise ConfigError(
                f"--js-runtime {o.js_runtime!r}: unknown runtime {name!r}",
                f"use one of {', '.join(SUPPORTED_JS_RUNTIMES)}, optionally NAME:/path/to/binary",
            )
    if o.normalise.preset not in nm.X264_PRESETS:
        raise ConfigError(
            f"--encoder-preset {o.normalise.preset!r} is not an x264 preset",
            f"use one of {', '.join(nm.X264_PRESETS)}",
        )
