"""Label Studio plumbing for the services: the client from settings, the label config, and
``avel labelstudio serve`` (a local server with an admin user, its token in the config file)."""

from __future__ import annotations

import importlib.resources
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from avel_annotate.config import Settings, write_config_values
from avel_annotate.domain.labelconfig import build_label_config
from avel_annotate.errors import ConfigError, LabelStudioError
from avel_annotate.labelstudio.client import LsClient
from avel_annotate.labelstudio.server import ServerHandle, find_label_studio, start_server

log = logging.getLogger(__name__)

ADMIN_EMAIL = "admin@avel.local"
CREDENTIALS_FILE = "admin-credentials.txt"
SQLITE_FILE = "label_studio.sqlite3"


def client_for(settings: Settings) -> LsClient:
    """A client for ``settings.ls_url`` with the token from AVEL_LS_API_KEY or the config file."""
    if not settings.ls_api_key:
        raise ConfigError(
            f"no Label Studio token for {settings.ls_url}",
            "run `avel labelstudio serve` (it writes one to the config file) or set "
            "AVEL_LS_API_KEY",
        )
    return LsClient(settings.ls_url, settings.ls_api_key)


def label_config(categories: list[str]) -> str:
    template = importlib.resources.files("avel_annotate.schema") / "label_config.xml"
    return build_label_config(template.read_text(encoding="utf-8"), categories)


@dataclass(frozen=True)
class ServeReport:
    url: str
    ls_data_dir: str
    log_path: str
    config_path: str
    admin_email: str
    credentials_path: str
    invite_url: str | None
    first_start: bool
    requested_port: int


def _write_secret_file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


def _admin_password(creds: Path) -> str:
    for line in creds.read_text(encoding="utf-8").splitlines():
        if line.startswith("password="):
            return line.split("=", 1)[1]
    raise ConfigError(f"{creds} has no password= line", "restore it, or serve a new --data-dir")


def start_local_server(
    settings: Settings, *, port: int = 8080, ls_data_dir: Path | None = None
) -> tuple[ServerHandle, ServeReport]:
    """Start (or restart) the toolkit's Label Studio and save its URL and token to the config."""
    find_label_studio()  # fail first, with the install hint, before writing anything
    ls_dir = (ls_data_dir or settings.data_dir / "labelstudio").resolve()
    creds = ls_dir / CREDENTIALS_FILE
    first = not (ls_dir / SQLITE_FILE).exists()
    if first:
        token = secrets.token_hex(20)  # a legacy 40-hex token
        password = secrets.token_urlsafe(18)
        _write_secret_file(creds, f"email={ADMIN_EMAIL}\npassword={password}\n")
    else:
        if not settings.ls_api_key:
            raise ConfigError(
                f"{ls_dir} is an existing Label Studio data dir but no token is configured",
                "set AVEL_LS_API_KEY to its token, or serve a new --data-dir",
            )
        token = settings.ls_api_key
        password = _admin_password(creds) if creds.exists() else secrets.token_urlsafe(18)
    handle = start_server(
        ls_dir,
        settings.data_dir.resolve(),
        token=token,
        username=ADMIN_EMAIL,
        password=password,
        port=port,
    )
    try:
        write_config_values(settings.config_path, {"ls_url": handle.url, "ls_api_key": token})
        client = LsClient(handle.url, token)
        client.whoami()
        invite: str | None = client.invite_url()
    except LabelStudioError:
        handle.stop()
        raise
    report = ServeReport(
        url=handle.url,
        ls_data_dir=str(ls_dir),
        log_path=str(handle.log_path),
        config_path=str(settings.config_path),
        admin_email=ADMIN_EMAIL,
        credentials_path=str(creds),
        invite_url=invite,
        first_start=first,
        requested_port=port,
    )
    return handle, report


def serve(
    settings: Settings,
    *,
    port: int = 8080,
    ls_data_dir: Path | None = None,
    on_ready: Callable[[ServeReport], None],
) -> int:
    """Run the server in the foreground until it exits or is interrupted; its exit code."""
    handle, report = start_local_server(settings, port=port, ls_data_dir=ls_data_dir)
    try:
        on_ready(report)
        return handle.process.wait()
    finally:
        handle.stop()
