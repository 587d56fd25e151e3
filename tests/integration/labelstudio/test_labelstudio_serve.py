"""`avel labelstudio serve` plumbing: token to the config file only, invite link, errors."""

from __future__ import annotations

import os
import socket
import stat
import sys
from pathlib import Path

import pytest

from avel_annotate.cli.main import run
from avel_annotate.config import load_settings
from avel_annotate.errors import LabelStudioError
from avel_annotate.labelstudio import server
from avel_annotate.labelstudio.server import copy_data_dir, free_port, port_is_free
from avel_annotate.services.labelstudio import start_local_server

from .conftest import TOKEN

pytestmark = pytest.mark.labelstudio


def test_serve_writes_token_0600_and_reports_invite(
    ls_template: Path, data_dir: Path, caplog: pytest.LogCaptureFixture
):
    copy_data_dir(ls_template, data_dir / "labelstudio")
    (data_dir / "labelstudio" / "admin-credentials.txt").write_text("password=x\n")
    settings = load_settings(data_dir=data_dir, overrides={"ls_api_key": TOKEN}, environ={})
    port = free_port(18580)
    handle, report = start_local_server(settings, port=port)
    try:
        assert report.url == f"http://127.0.0.1:{port}" and handle.port == port
        assert report.invite_url and report.invite_url.startswith(report.url + "/user/signup/")
        invite = Path(report.invite_path or "")
        assert invite.read_text().strip() == report.invite_url
        assert stat.S_IMODE(invite.stat().st_mode) == 0o600
        config = data_dir / "config.toml"
        assert stat.S_IMODE(config.stat().st_mode) == 0o600
        again = load_settings(data_dir=data_dir, environ={})
        assert again.ls_api_key == TOKEN and again.ls_url == report.url
        assert TOKEN not in repr(report) and TOKEN not in caplog.text
        assert TOKEN not in repr(again)
        pid_file = data_dir / "labelstudio" / server.PID_FILE
        assert pid_file.read_text().split()[:2] == [str(handle.process.pid), str(port)]
    finally:
        handle.stop()
    assert port_is_free(handle.port) and not pid_file.exists()


def test_busy_port_is_a_one_line_error_never_a_silent_move(
    ls_template: Path,
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
):
    """Issue 10: serve moved to the next port, and the store then keyed the project by it."""
    copy_data_dir(ls_template, data_dir / "labelstudio")
    monkeypatch.setenv("AVEL_LS_API_KEY", TOKEN)
    busy = free_port(18590)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", busy))
        blocker.listen()
        code = run(
            ["--data-dir", str(data_dir), "labelstudio", "serve", "--port", str(busy)],
        )
        err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1
    assert f"port {busy} on 127.0.0.1 is busy" in err and "--port" in err


def test_missing_label_studio_is_one_line_with_the_install_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LabelStudioError) as info:
        server.find_label_studio()
    assert info.value.one_line() == (
        "label-studio is not installed (pip install 'avel-annotate[server]')"
    )
    code = run(["--data-dir", str(tmp_path / "d"), "labelstudio", "serve"])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err == "error: label-studio is not installed (pip install 'avel-annotate[server]')"


def test_cli_push_with_server_down_names_the_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    port = free_port(18690)
    monkeypatch.setenv("AVEL_LS_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AVEL_LS_API_KEY", "0" * 40)
    code = run(["--data-dir", str(tmp_path / "d"), "annotate", "push"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1
    assert f"http://127.0.0.1:{port} is not reachable" in err and "0" * 40 not in err


def _group_cmdlines(pgid: int) -> list[str]:
    out = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if os.getpgid(int(proc.name)) != pgid:
                continue
            out.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, ProcessLookupError):
            continue
    return out


def test_data_dir_is_private_and_no_secret_in_process_arguments(ls_template: Path, data_dir: Path):
    """Issue 16 item 7: the database holding the admin token was 0644."""
    ls_dir = data_dir / "labelstudio"
    copy_data_dir(ls_template, ls_dir)
    os.chmod(ls_dir, 0o755)
    os.chmod(ls_dir / "label_studio.sqlite3", 0o644)  # as an older version left it
    creds = ls_dir / "admin-credentials.txt"
    creds.write_text("password=not-in-argv-3f9c\n")
    settings = load_settings(data_dir=data_dir, overrides={"ls_api_key": TOKEN}, environ={})
    handle, _ = start_local_server(settings, port=free_port(18620))
    try:
        cmdlines = _group_cmdlines(os.getpgid(handle.process.pid))
        assert cmdlines and any("label-studio" in c for c in cmdlines)
        assert not [c for c in cmdlines if TOKEN in c or "not-in-argv-3f9c" in c]
        assert stat.S_IMODE(ls_dir.stat().st_mode) == 0o700
        for path in ls_dir.rglob("*"):
            want = 0o700 if path.is_dir() else 0o600
            assert stat.S_IMODE(path.stat().st_mode) == want, path
    finally:
        handle.stop()
