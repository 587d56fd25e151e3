"""Label Studio plumbing for the services: the client from settings, the label config, and
``avel labelstudio serve`` (a local server with an admin user, its token in the config file)."""

from __future__ import annotations

import importlib.resources
import logging
import secrets
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from avel_annotate import fileio
from avel_annotate.config import Settings, write_config_values
from avel_annotate.domain.labelconfig import build_label_config
from avel_annotate.errors import ConfigError, LabelStudioError
from avel_annotate.labelstudio.client import LsClient
from avel_annotate.labelstudio.server import (
    LOOPBACK,
    ServerHandle,
    StoppedServer,
    find_label_studio,
    start_server,
    stop_recorded,
)

log = logging.getLogger(__name__)

ADMIN_EMAIL = "admin@avel.local"
CREDENTIALS_FILE = "admin-credentials.txt"
INVITE_FILE = "invite-link.txt"
STORAGE_TITLE = "avel clips"  # the local-files storage of every project the toolkit pushes
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
SQLITE_FILE = "label_studio.sqlite3"
DEFAULT_PORT = 8080  # `avel labelstudio serve --port`


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
    invite_path: str | None
    first_start: bool
    requested_port: int
    host: str = LOOPBACK
    pid: int | None = None
    warnings: tuple[str, ...] = ()


def repoint_storages(client: LsClient, settings: Settings) -> int:
    """Point every toolkit storage of a server rooted at this data dir at its clips folder (the
    data dir was copied or moved: the old absolute path no longer serves any video)."""
    clips = str(settings.clips_dir.resolve())
    moved = [
        (sid, pid)
        for sid, pid, path, title in client.local_storages()
        if title == STORAGE_TITLE and path != clips
    ]
    for sid, pid in moved:
        client.repoint_local_storage(sid, pid, clips)
    return len(moved)


def _write_secret_file(path: Path, text: str) -> None:
    """Readable by this user only, from the first byte on; replaced atomically."""
    fileio.write_text(path, text, mode=0o600)


def _admin_password(creds: Path) -> str:
    for line in creds.read_text(encoding="utf-8").splitlines():
        if line.startswith("password="):
            return line.split("=", 1)[1]
    raise ConfigError(f"{creds} has no password= line", "restore it, or serve a new --data-dir")


def _credentials(settings: Settings, ls_dir: Path, first: bool) -> tuple[str, str]:
    """``(token, admin password)``: new ones for a new data dir (the password saved 0600),
    else the configured token and the saved password."""
    creds = ls_dir / CREDENTIALS_FILE
    if first:
        token = secrets.token_hex(20)  # a legacy 40-hex token
        password = secrets.token_urlsafe(18)
        _write_secret_file(creds, f"email={ADMIN_EMAIL}\npassword={password}\n")
        return token, password
    if not settings.ls_api_key:
        raise ConfigError(
            f"{ls_dir} is an existing Label Studio data dir but no token is configured",
            "set AVEL_LS_API_KEY to its token, or serve a new --data-dir",
        )
    password = _admin_password(creds) if creds.exists() else secrets.token_urlsafe(18)
    return settings.ls_api_key, password


def _team_url(handle: ServerHandle, host: str) -> tuple[str, list[str]]:
    """The URL annotators use, and the warning when the server listens beyond loopback."""
    if host in LOOPBACK_HOSTS:
        return handle.url, []
    name = socket.getfqdn() if host in ("0.0.0.0", "::", "") else host
    warning = (
        f"Label Studio listens on {host}:{handle.port}, beyond this machine: anyone who can "
        "reach it can try to log in; keep it behind a firewall or VPN"
    )
    return f"http://{name}:{handle.port}", [warning]


def _configure(
    settings: Settings, handle: ServerHandle, token: str, team_url: str, ls_dir: Path
) -> tuple[str | None, Path]:
    """Save URL and token to the config, re-point storages, write the invite link (0600)."""
    write_config_values(settings.config_path, {"ls_url": handle.url, "ls_api_key": token})
    client = LsClient(handle.url, token)
    client.whoami()
    repoint_storages(client, settings)
    invite: str | None = client.invite_url()
    if invite is not None and team_url != handle.url:
        invite = team_url + invite[len(handle.url) :]
    invite_path = ls_dir / INVITE_FILE
    _write_secret_file(invite_path, f"{invite}\n")
    return invite, invite_path


def start_local_server(
    settings: Settings,
    *,
    port: int = DEFAULT_PORT,
    ls_data_dir: Path | None = None,
    host: str = LOOPBACK,
) -> tuple[ServerHandle, ServeReport]:
    """Start (or restart) the toolkit's Label Studio and save its URL and token to the config."""
    find_label_studio()  # fail first, with the install hint, before writing anything
    ls_dir = (ls_data_dir or settings.data_dir / "labelstudio").resolve()
    first = not (ls_dir / SQLITE_FILE).exists()
    token, password = _credentials(settings, ls_dir, first)
    handle = start_server(
        ls_dir,
        settings.data_dir.resolve(),
        token=token,
        username=ADMIN_EMAIL,
        password=password,
        port=port,
        host=host,
    )
    team_url, warnings = _team_url(handle, host)
    try:
        invite, invite_path = _configure(settings, handle, token, team_url, ls_dir)
    except (LabelStudioError, OSError):
        handle.stop()
        raise
    report = ServeReport(
        url=handle.url,
        ls_data_dir=str(ls_dir),
        log_path=str(handle.log_path),
        config_path=str(settings.config_path),
        admin_email=ADMIN_EMAIL,
        credentials_path=str(ls_dir / CREDENTIALS_FILE),
        invite_url=invite,
        invite_path=str(invite_path),
        first_start=first,
        requested_port=port,
        host=host,
        pid=handle.process.pid,
        warnings=tuple(warnings),
    )
    return handle, report


class _Stop(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_stop(signum: int, _frame: object) -> None:
    raise _Stop(signum)


def serve(
    settings: Settings,
    *,
    port: int = DEFAULT_PORT,
    ls_data_dir: Path | None = None,
    host: str = LOOPBACK,
    on_ready: Callable[[ServeReport], None],
) -> int:
    """Run the server in the foreground until it exits or is interrupted; its exit code.

    SIGINT, SIGTERM and SIGHUP stop Label Studio with us (it runs in its own process group, so
    the terminal's signals do not reach it directly); exit code 128 + the signal number.
    """
    previous = {s: signal.signal(s, _raise_stop) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        handle, report = start_local_server(settings, port=port, ls_data_dir=ls_data_dir, host=host)
        try:
            on_ready(report)
            return handle.process.wait()
        except _Stop as stop:
            log.info("signal %d: stopping Label Studio", stop.signum)
            return 128 + stop.signum
        finally:
            handle.stop()
    except _Stop as stop:  # while starting: start_server stopped nothing yet; the pid file does
        stop_recorded((ls_data_dir or settings.data_dir / "labelstudio").resolve())
        return 128 + stop.signum
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def stop_local_server(settings: Settings, ls_data_dir: Path | None = None) -> StoppedServer | None:
    """`avel labelstudio stop`: stop the server recorded in the data dir (None: none recorded)."""
    return stop_recorded((ls_data_dir or settings.data_dir / "labelstudio").resolve())
