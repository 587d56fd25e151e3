"""A local Label Studio server: start it headless on loopback, wait for ``/health``, stop it.

Used by ``avel labelstudio serve`` and by the integration tests (which migrate one template data
dir per session and copy it per test: a fresh dir takes ~50 s of migrations, a copy ~4 s). The
environment switches off everything that calls out (version check, Sentry, analytics), serves
local files from the toolkit's data dir, and creates the admin user with a legacy API token on
the first start. The token is passed through the environment only, never on a command line.
"""

from __future__ import annotations

import ctypes
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

from avel_annotate import fileio
from avel_annotate.errors import LabelStudioError

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'avel-annotate[server]'"
LOOPBACK = "127.0.0.1"
PID_FILE = "server.pid"
# Label Studio keeps a task opened in someone's stream locked for TASK_LOCK_TTL seconds
# (default 86400: a day of "No More Tasks Left in Queue" for everybody else); 1.23 reads it from
# the environment (core/settings/base.py). Five minutes returns an abandoned task soon enough.
TASK_LOCK_TTL_S = 300
_PR_SET_PDEATHSIG = 1


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
    ls_data_dir: Path,
    document_root: Path,
    *,
    username: str,
    password: str,
    token: str,
    task_lock_ttl_s: int = TASK_LOCK_TTL_S,
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
            "LABEL_STUDIO_TASK_LOCK_TTL": str(int(task_lock_ttl_s)),
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
        if self.process.poll() is None:
            pgid = os.getpgid(self.process.pid)
            os.killpg(pgid, signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(pgid, signal.SIGKILL)
                self.process.wait(timeout_s)
        _remove_pid_file(self.ls_data_dir, self.process.pid)

    def kill(self) -> None:
        """Kill at once, as a crash would (tests of interrupted work); the pid file stays."""
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
    host: str = LOOPBACK,
    timeout_s: float = 180.0,
    task_lock_ttl_s: int = TASK_LOCK_TTL_S,
) -> ServerHandle:
    """Start ``label-studio`` and return once ``/health`` answers.

    ``port`` None takes any free port (tests); a given port must be free: a busy one is an
    error, never a silent move to another port. A server of this data dir left running by a
    parent that was killed is stopped first (its pid file). The server runs in its own process
    group and gets SIGTERM when the process that started it dies.
    """
    exe = find_label_studio()
    ls_data_dir.mkdir(parents=True, exist_ok=True)
    make_private(ls_data_dir)
    stop_recorded(ls_data_dir)
    chosen = _choose_port(port, host)
    local_host = LOOPBACK if host in ("0.0.0.0", "", "::") else host
    url = f"http://{local_host}:{chosen}"
    env = server_env(
        ls_data_dir,
        document_root,
        username=username,
        password=password,
        token=token,
        task_lock_ttl_s=task_lock_ttl_s,
    )
    cmd = [str(exe), "start", "--no-browser", "--internal-host", host, "--port", str(chosen)]
    handle = _spawn(cmd, env, url, chosen, ls_data_dir)
    _write_pid_file(ls_data_dir, handle.process.pid, chosen, host)
    return _wait_healthy(handle, timeout_s)


def _choose_port(port: int | None, host: str) -> int:
    """Any free port (None), else the given one, which must be free (never a silent move)."""
    if port is None:
        return free_port(None, host)
    if port_is_free(port, host):
        return port
    raise LabelStudioError(
        f"port {port} on {host} is busy",
        "stop what listens there (`avel labelstudio stop` if it is this toolkit's server) "
        "or choose another with --port",
    )


def _spawn(
    cmd: list[str], env: dict[str, str], url: str, port: int, ls_data_dir: Path
) -> ServerHandle:
    """The server process in its own session, its output appended to ``server.log``."""
    log_path = ls_data_dir / "server.log"
    log.info("starting Label Studio on %s (data %s, log %s)", url, ls_data_dir, log_path)
    # a log is appended to, never replaced: it is opened for appending, not written atomically
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
            preexec_fn=_die_with_parent,
        )
    return ServerHandle(url, port, ls_data_dir, log_path, process)


def _wait_healthy(handle: ServerHandle, timeout_s: float) -> ServerHandle:
    url, log_path = handle.url, handle.log_path
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
    shutil.copytree(template, dest, ignore=shutil.ignore_patterns("server.log", PID_FILE))
    return dest


# -- the pid file and stopping a server this process did not start ---------------------------


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: SIGTERM to the server when the process that started it dies, even by kill -9."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _write_pid_file(ls_data_dir: Path, pid: int, port: int, host: str) -> None:
    fileio.write_text(ls_data_dir / PID_FILE, f"{pid}\n{port}\n{host}\n", mode=0o600)


def _remove_pid_file(ls_data_dir: Path, pid: int) -> None:
    recorded = read_pid_file(ls_data_dir)
    if recorded is not None and recorded[0] == pid:
        (ls_data_dir / PID_FILE).unlink(missing_ok=True)


def read_pid_file(ls_data_dir: Path) -> tuple[int, int, str] | None:
    """``(pid, port, host)`` of the server recorded in the data dir, else None."""
    try:
        pid, port, host = (ls_data_dir / PID_FILE).read_text(encoding="utf-8").split()[:3]
        return int(pid), int(port), host
    except (OSError, ValueError):
        return None


def _is_our_server(pid: int) -> bool:
    """The process is a label-studio server leading its own process group."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat_fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    zombie = stat_fields[0] == "Z"
    return not zombie and b"label-studio" in cmdline and os.getpgid(pid) == pid


@dataclass(frozen=True)
class StoppedServer:
    pid: int
    port: int
    host: str
    was_running: bool


def stop_recorded(ls_data_dir: Path, timeout_s: float = 15.0) -> StoppedServer | None:
    """Stop the server recorded in the data dir's pid file (left by a killed ``serve``) and
    remove the file; None when there is no pid file. A stale file (process gone, or the pid
    reused by something else) is removed without touching any process."""
    recorded = read_pid_file(ls_data_dir)
    if recorded is None:
        (ls_data_dir / PID_FILE).unlink(missing_ok=True)
        return None
    pid, port, host = recorded
    running = _is_our_server(pid)
    if running:
        log.info("stopping the Label Studio server left running (pid %d, port %d)", pid, port)
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while _is_our_server(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _is_our_server(pid):
            os.killpg(pid, signal.SIGKILL)
            while _is_our_server(pid) and time.monotonic() < deadline + timeout_s:
                time.sleep(0.2)
    (ls_data_dir / PID_FILE).unlink(missing_ok=True)
    return StoppedServer(pid, port, host, running)
