"""Issue 10 item 2: `avel labelstudio serve` stops Label Studio with itself, and leaves no
orphan when it is killed. Before, a plain `kill` of serve left Label Studio running on its port.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from avel_annotate.labelstudio.server import (
    PID_FILE,
    TASK_LOCK_TTL_S,
    copy_data_dir,
    free_port,
    port_is_free,
    read_pid_file,
)

from .conftest import PASSWORD, TOKEN, start_copy

pytestmark = pytest.mark.labelstudio
AVEL = str(Path(sys.executable).parent / "avel")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait(predicate, what: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


class Serve:
    """`avel labelstudio serve` in a child process (its own session, as a terminal would)."""

    def __init__(self, data_dir: Path, port: int) -> None:
        env = {**os.environ, "AVEL_LS_API_KEY": TOKEN, "CI": "1"}
        self.ls_dir = data_dir / "labelstudio"
        self.out = data_dir / f"serve-{port}.out"
        self.port = port
        with self.out.open("wb") as fh:
            self.proc = subprocess.Popen(
                [AVEL, "--data-dir", str(data_dir), "labelstudio", "serve", "--port", str(port)],
                env=env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait(lambda: "press Ctrl-C" in self.text() or self.proc.poll() is not None, "serve")
        assert self.proc.poll() is None, self.text()
        recorded = read_pid_file(self.ls_dir)
        assert recorded is not None and recorded[1] == port
        self.ls_pid = recorded[0]
        assert _alive(self.ls_pid) and not port_is_free(port)

    def text(self) -> str:
        return self.out.read_text(errors="replace")


@pytest.fixture
def served_dir(ls_template: Path, data_dir: Path) -> Path:
    copy_data_dir(ls_template, data_dir / "labelstudio")
    (data_dir / "labelstudio" / "admin-credentials.txt").write_text(f"password={PASSWORD}\n")
    return data_dir


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signal_stops_label_studio_with_serve(served_dir: Path, signum: int):
    serve = Serve(served_dir, free_port(18800 + signum))
    invite = (serve.ls_dir / "invite-link.txt").read_text().strip()
    assert invite.startswith(f"http://127.0.0.1:{serve.port}/user/signup/")
    assert invite in serve.text().splitlines()  # the whole link on a line of its own
    serve.proc.send_signal(signum)
    assert serve.proc.wait(60) == 128 + signum
    _wait(lambda: not _alive(serve.ls_pid), "Label Studio to exit")
    assert port_is_free(serve.port) and not (serve.ls_dir / PID_FILE).exists()


def test_parent_killed_9_leaves_no_orphan_and_stop_cleans_up(served_dir: Path):
    serve = Serve(served_dir, free_port(18830))
    serve.proc.kill()
    serve.proc.wait(30)
    _wait(lambda: not _alive(serve.ls_pid), "Label Studio to follow its parent")
    assert (serve.ls_dir / PID_FILE).exists()  # left behind by the kill -9 ...
    done = subprocess.run(
        [AVEL, "--data-dir", str(served_dir), "labelstudio", "stop"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "had already exited" in done.stdout  # ... and removed by stop
    assert not (serve.ls_dir / PID_FILE).exists()


def test_stop_ends_a_server_left_running(ls_template: Path, data_dir: Path):
    handle = start_copy(ls_template, data_dir / "labelstudio", data_dir)
    try:
        environ = Path(f"/proc/{handle.process.pid}/environ").read_bytes().split(b"\0")
        assert f"LABEL_STUDIO_TASK_LOCK_TTL={TASK_LOCK_TTL_S}".encode() in environ
        done = subprocess.run(
            [AVEL, "--data-dir", str(data_dir), "labelstudio", "stop"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert f"stopped Label Studio (pid {handle.process.pid}, port {handle.port})" in done.stdout
        assert handle.process.wait(30) is not None
        assert port_is_free(handle.port) and not (data_dir / "labelstudio" / PID_FILE).exists()
        again = subprocess.run(
            [AVEL, "--data-dir", str(data_dir), "labelstudio", "stop"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert "no Label Studio server is recorded" in again.stdout
    finally:
        handle.stop()
