"""Settings: command-line options, then ``AVEL_*`` environment variables, then a config file.

Nothing here runs at import time: the CLI callback calls :func:`load_settings` once and passes the
frozen :class:`Settings` down. The config file is ``<data-dir>/config.toml`` (or ``--config`` /
``AVEL_CONFIG``); the data dir itself comes only from the option, the environment or the default
``./avel-data``, since it is where the file lives. Secrets (the Label Studio token) are held in a
field that never appears in ``repr`` and are written only to that file, with mode 0600.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from avel_annotate import fileio
from avel_annotate.errors import ConfigError

DEFAULT_DATA_DIR = Path("avel-data")
CONFIG_FILE_NAME = "config.toml"
DEFAULT_LS_URL = "http://127.0.0.1:8080"

# setting name -> (environment variable, config-file key)
_KEYS: dict[str, tuple[str, str]] = {
    "db_url": ("AVEL_DB", "db"),
    "ls_url": ("AVEL_LS_URL", "ls_url"),
    "ls_api_key": ("AVEL_LS_API_KEY", "ls_api_key"),
    "progress": ("AVEL_PROGRESS", "progress"),
    "device": ("AVEL_DEVICE", "device"),
    "proxy": ("AVEL_PROXY", "proxy"),  # fetch's proxy URL; kept out of argv (and `ps`)
}


@dataclass(frozen=True)
class Settings:
    data_dir: Path = DEFAULT_DATA_DIR
    db_url: str = ""
    config_path: Path = DEFAULT_DATA_DIR / CONFIG_FILE_NAME
    ls_url: str = DEFAULT_LS_URL
    ls_api_key: str | None = field(default=None, repr=False)
    progress: bool = True
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    proxy: str | None = field(default=None, repr=False)

    @property
    def clips_dir(self) -> Path:
        return self.data_dir / "clips"

    @property
    def features_dir(self) -> Path:
        return self.data_dir / "features"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


def normalise_db_url(url: str) -> str:
    """Accept URLs as users paste them: ``postgresql://`` gets the psycopg 3 driver."""
    url = url.strip()
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith("postgresql+psycopg2://"):
        return "postgresql+psycopg://" + url[len("postgresql+psycopg2://") :]
    return url


def _parse_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{name}={value!r} is not a boolean", "use true or false")


def read_config_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{path}: cannot read config file: {e}", "fix or delete the file") from e
    known = {key for _, key in _KEYS.values()}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            f"{path}: unknown setting(s) {', '.join(unknown)}",
            f"known settings are {', '.join(sorted(known))}",
        )
    return data


def write_config_values(path: Path, values: Mapping[str, str]) -> None:
    """Merge ``values`` into the config file, atomically, readable by the owner only (0600)."""
    current = read_config_file(path)
    current.update(values)
    lines = []
    for key in sorted(current):
        value = current[key]
        if isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}\n")
        else:
            escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
            lines.append(f'{key} = "{escaped}"\n')
    fileio.write_text(path, "".join(lines), mode=0o600)


def load_settings(
    *,
    data_dir: Path | None = None,
    db_url: str | None = None,
    config_path: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build settings: explicit arguments win, then ``AVEL_*`` variables, then the config file."""
    env = os.environ if environ is None else environ
    ddir = data_dir or (
        Path(env["AVEL_DATA_DIR"]) if env.get("AVEL_DATA_DIR") else DEFAULT_DATA_DIR
    )
    cpath = config_path or (
        Path(env["AVEL_CONFIG"]) if env.get("AVEL_CONFIG") else ddir / CONFIG_FILE_NAME
    )
    file_values = read_config_file(cpath)
    explicit: dict[str, Any] = {"db_url": db_url, **(overrides or {})}
    values: dict[str, Any] = {}
    for name, (env_name, file_key) in _KEYS.items():
        if explicit.get(name) is not None:
            values[name] = explicit[name]
        elif env.get(env_name):
            values[name] = env[env_name]
        elif file_key in file_values:
            values[name] = file_values[file_key]
    if "progress" in values:
        values["progress"] = _parse_bool("progress", values["progress"])
    if env.get("CI") and "progress" not in values:
        values["progress"] = False
    url = values.pop("db_url", "") or sqlite_url(ddir / "avel.db")
    valid = {f.name for f in fields(Settings)}
    return Settings(
        data_dir=ddir,
        db_url=normalise_db_url(str(url)),
        config_path=cpath,
        **{k: v for k, v in values.items() if k in valid},
    )
