"""`avel doctor`: every check that tells whether this machine can run the loop, in one report.

The fetch preflight (ffmpeg/ffprobe, JS runtime, EJS scripts, yt-dlp age, writable data dir and
free disk), then the store (URL with the password masked, schema revision against the head),
Label Studio (reachable; token accepted), torch and its CUDA devices, and the pretrained
weights found in the torch hub cache. Nothing is changed and nothing is downloaded.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass, field

from avel_annotate.config import Settings
from avel_annotate.errors import AvelError
from avel_annotate.features import weights as wt
from avel_annotate.labelstudio.client import LsClient
from avel_annotate.media import download as dl
from avel_annotate.media import ytdlp_env
from avel_annotate.model import device as runtime
from avel_annotate.services import fetch_preflight as pf
from avel_annotate.services.store import db_current
from avel_annotate.store.engine import safe_url, sqlite_file

Check = pf.Check


@dataclass(frozen=True)
class DoctorReport:
    ok: bool = field(init=False)  # every check passed (a field, so the JSON report carries it)
    checks: list[Check]

    def __post_init__(self) -> None:
        object.__setattr__(self, "ok", all(c.ok for c in self.checks))

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


def store_checks(settings: Settings) -> list[Check]:
    url = safe_url(settings.db_url)
    db_file = sqlite_file(settings.db_url)
    if db_file is not None and not db_file.exists():
        return [Check("store", True, f"{url} (a new database is made on first use)")]
    try:
        cur = db_current(settings)
    except AvelError as e:
        return [Check("store", False, f"{url}: {e.message}", e.hint)]
    out = [Check("store", True, url)]
    if cur.up_to_date:
        out.append(Check("schema", True, f"revision {cur.current} (head)"))
    elif cur.current is None:
        out.append(Check("schema", True, f"empty database: created at {cur.head} on first use"))
    else:
        out.append(
            Check(
                "schema",
                False,
                f"revision {cur.current}, the toolkit needs {cur.head}",
                "run `avel db upgrade`",
            )
        )
    return out


def _reachable(url: str, timeout_s: float) -> str | None:
    """None when something answers HTTP at ``url``; else why not."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/health", timeout=timeout_s):
            return None
    except urllib.error.HTTPError:
        return None  # it answered
    except (urllib.error.URLError, OSError) as e:
        return str(getattr(e, "reason", e))


def labelstudio_checks(settings: Settings, timeout_s: float = 5.0) -> list[Check]:
    url = settings.ls_url
    why = _reachable(url, timeout_s)
    if why is not None:
        return [
            Check(
                "Label Studio",
                False,
                f"{url} does not answer: {why}",
                "start it with `avel labelstudio serve` or set AVEL_LS_URL",
            )
        ]
    out = [Check("Label Studio", True, f"{url} answers")]
    if not settings.ls_api_key:
        out.append(
            Check(
                "LS token",
                False,
                "no token configured",
                "run `avel labelstudio serve` (it writes one) or set AVEL_LS_API_KEY",
            )
        )
        return out
    try:
        _, who = LsClient(url, settings.ls_api_key, timeout_s=timeout_s).whoami()
    except AvelError as e:
        out.append(Check("LS token", False, e.message, e.hint))
    else:
        out.append(Check("LS token", True, f"accepted (user {who})"))
    return out


def torch_checks() -> list[Check]:
    out = [Check("torch", True, runtime.torch_version())]
    names = runtime.cuda_device_names()
    if names:
        out.append(Check("CUDA", True, f"{len(names)} device(s): {', '.join(names)}"))
    else:
        out.append(Check("CUDA", True, "no CUDA device: --device auto uses the CPU"))
    return out


def weights_checks() -> list[Check]:
    out = []
    for model in ("vgg19", "vggish"):
        found = [p for p in wt.candidate_paths(model) if p.is_file()]
        if found:
            out.append(Check(f"weights {model}", True, str(found[0])))
        else:
            spec = wt.SPECS[model]
            out.append(
                Check(
                    f"weights {model}",
                    False,
                    f"not in the hub cache {wt.hub_dir() / 'checkpoints'}",
                    f"download {' or '.join(spec.file_names)} from {spec.source}",
                )
            )
    return out


def plugin_checks() -> list[Check]:
    """yt-dlp's plugin directories (where a PO-token provider plugin is found), as it says."""
    lines = ytdlp_env.inspect_ytdlp().debug_lines
    found = [ln for ln in lines if ln.startswith(("Plugin directories:", "Extractor Plugins:"))]
    return [Check("yt-dlp plugins", True, "; ".join(found) or "none reported")]


def doctor(settings: Settings) -> DoctorReport:
    """Run every check; none raises (a failing check carries its fix)."""
    checks = pf.tool_checks()
    checks += pf.youtube_checks(dl.DownloadOptions())
    checks += plugin_checks()
    checks += pf.disk_checks(settings.data_dir, 0, create=False)
    checks += store_checks(settings)
    checks += labelstudio_checks(settings)
    checks += torch_checks()
    checks += weights_checks()
    return DoctorReport(checks)
