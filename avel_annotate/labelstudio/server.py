"""A local Label Studio server: start it headless on loopback, wait for ``/health``, stop it.

Used by ``avel labelstudio serve`` and by the integration tests (which migrate one template data
dir per session and copy it per test: a fresh dir takes ~50 s of migrations, a copy ~4 s). The
environment switches off everything that calls out (version check, Sentry, analytics), serves
local files from the toolkit's data dir, and creates the admin user with a legacy API token on
the first start. The token is passed through the environment only, never on a command line.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from avel_annotate.errors import LabelStudioError

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'avel-annotate[server]'"
LOOPBACK = "127.0.0.1"


def find_label_studio() -> Path:
    """The ``label-studio`` executable next to this Python, else on PATH."""
    local = Path(sys.executable).parent / "label-studio"
    if local.exists():
        return local
    found = shutil.which("label-studio")
    if found is None:
        raise LabelStudioError("label-studio is not installed", INSTALL_HINT)
    return Path(found)


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # as the server binds: a port left in TIME_WAIT by a killed server is usable
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def free_port(preferred: int | None = None, host: str = LOOPBACK) -> int:
    """``preferred`` when it is free, else the next free port above it (or any free port)."""
    if preferred is not None:
        for port in range(preferred, min(preferred + 100, 65536)):
            if port_is_free(port, host):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def server_env(
    ls_data_dir: Path, document_root: Path, *, username: str, password: str, token: str
) -> dict[str, str]:
    """Environment of an offline, loopback-only server (see docs/labelstudio.md)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABEL_STUDIO_", "DJANGO_"))}
    env.update(
        {
            "LABEL_STUDIO_BASE_DATA_DIR": str(ls_data_dir.resolve()),
            "LABEL_STUDIO_USERNAME": username,
            "LABEL_STUDIO_PASSWORD": password,
            "LABEL_STUDIO_USER_TOKEN": token,
            "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
            "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
            "LATEST_VERSION_CHECK": "false",
            "SENTRY_DSN": "",
            "FRONTEND_SENTRY_DSN": "",
            "COLLECT_ANALYTICS": "false",
            "LOCAL_FILES_SERVING_ENABLED": "true",
            "LOCAL_FILES_DOCUMENT_ROOT": str(document_root.resolve()),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def make_private(ls_data_dir: Path) -> None:
    """Mode 0700 for the data dir and its folders, 0600 for its files (the SQLite database holds
    the admin token); a data dir made by an older version or copied with a loose umask is fixed."""
    os.chmod(ls_data_dir, 0o700)
    for root, dirs, files in os.walk(ls_data_dir):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o700)
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, 0o600)


def health(url: str, timeout_s: float = 2.0) -> bool:
    try:
        response = httpx.get(f"{url.rstrip('/')}/health", timeout=timeout_s)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and '"UP"' in response.text


@dataclass
class ServerHandle:
    url: str
    port: int
    ls_data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop the server and the processes it started (its own process group)."""
        if self.process.poll() is not None:
            return
        pgid = os.getpgid(self.process.pid)
        os.killpg(pgid, signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.process.wait(timeout_s)

    def kill(self) -> None:
        """Kill at once, as a crash would (tests of interrupted work)."""
        if self.process.poll() is None:
            os.killpg(os.getpgid(self.process.pid), signal.SIGKILL)
            self.process.wait(15)

    def log_tail(self, n: int = 5) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return " | ".join(line.strip() for line in lines[-n:] if line.strip())


def start_server(
    ls_data_dir: Path,
    document_root: Path,
    *,
    token: str,
    username: str,
    password: str,
    port: int | None = None,
    timeout_s: float = 180.0,
) -> ServerHandle:
    """Start ``label-studio`` and return once ``/health`` answers on the chosen port."""
    exe = find_label_studio()
    ls_data_dir.mkdir(parents=True, exist_ok=True)
    make_private(ls_data_dir)
    chosen = free_port(port)
    url = f"http://{LOOPBACK}:{chosen}"
    log_path = ls_data_dir / "server.log"
    env = server_env(ls_data_dir, document_root, username=username, password=password, token=token)
    cmd = [str(exe), "start", "--no-browser", "--internal-host", LOOPBACK, "--port", str(chosen)]
    log.info("starting Label Studio on %s (data %s, log %s)", url, ls_data_dir, log_path)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(log_fd, "ab") as log_fh:
        process = subprocess.Popen(
            cmd,
            env=env,
            cwd=ls_data_dir,
            stdin=subprocess.DEVNULL,
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            umask=0o077,  # the database holds the admin token: files 0600, dirs 0700
        )
    handle = ServerHandle(url, chosen, ls_data_dir, log_path, process)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not handle.alive():
            raise LabelStudioError(
                f"Label Studio exited before it was ready on {url}: {handle.log_tail()}",
                f"see {log_path}",
            )
        if health(url):
            log.info("Label Studio is up on %s", url)
            return handle
        time.sleep(0.5)
    handle.stop()
    raise LabelStudioError(
        f"Label Studio did not answer {url}/health within {timeout_s:.0f} s",
        f"see {log_path}",
    )


def copy_data_dir(template: Path, dest: Path) -> Path:
    """Copy a migrated server data dir (fast restart: no migrations). Logs are not copied."""
    shutil.copytree(template, dest, ignore=shutil.ignore_patterns("server.log"))
    return dest
