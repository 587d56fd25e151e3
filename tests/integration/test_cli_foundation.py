"""The `avel` command as a user runs it: exit codes, one-line errors, JSON reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from avel_annotate.cli.main import run

VGG = '---g-f_I2yQ,1,people marching,test\n-0abcdefghi,30,"female speech, woman speaking",train\n'


def _avel(data_dir: Path, *args: str) -> list[str]:
    return ["--data-dir", str(data_dir), "--no-progress", *args]


def test_import_stats_list_json(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    path = tmp_path / "v.csv"
    path.write_text(VGG)
    assert run(_avel(data_dir, "clips", "import", str(path))) == 0
    capsys.readouterr()
    assert run(_avel(data_dir, "--json", "clips", "stats")) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["total"] == 2 and stats["by_status"] == {"pending": 2}
    assert run(_avel(data_dir, "clips", "list", "--split", "train", "--json")) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["clip_id"] for r in records] == ["-0abcdefghi_000030"]
    assert records[0]["category"] == "female speech, woman speaking"


def test_bad_rows_print_file_line_and_exit_1(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
):
    path = tmp_path / "bad.csv"
    path.write_text(VGG + "../../etc/pa,1,dog,train\nabcdefghijk,-1,dog,train\n")
    assert run(_avel(data_dir, "clips", "import", str(path))) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith(f"{path}:3: bad YouTube id '../../etc/pa'")
    assert err[1].startswith(f"{path}:4: start '-1' is negative")
    assert err[2].startswith(f"error: {path}: 2 bad row(s); nothing was imported")
    assert "--skip-invalid" in err[2]
    assert run(_avel(data_dir, "--json", "clips", "stats")) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 0


def test_missing_file_and_bad_format_are_one_line(data_dir: Path, capsys: pytest.CaptureFixture):
    assert run(_avel(data_dir, "clips", "import", "/nonexistent/list.csv")) == 1
    err = capsys.readouterr().err.strip()
    assert err == "error: /nonexistent/list.csv: no such file (check the path)"
    assert run(_avel(data_dir, "clips", "import", "x.csv", "--format", "csv")) == 1
    assert "unknown format 'csv'" in capsys.readouterr().err


def test_unreachable_postgres_is_one_line_without_password(
    data_dir: Path, capsys: pytest.CaptureFixture
):
    url = "postgresql://someone:s3cret@127.0.0.1:1/nodb"
    assert run(_avel(data_dir, "--db", url, "clips", "stats")) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith(
        "error: cannot open database postgresql+psycopg://someone:***@127.0.0.1:1"
    )
    assert "s3cret" not in err


def test_db_upgrade_and_current_on_postgres_url_as_pasted(
    data_dir: Path, pg_url: str, capsys: pytest.CaptureFixture
):
    assert pg_url.startswith("postgresql://")
    assert run(_avel(data_dir, "--db", pg_url, "db", "current", "--json")) == 0
    assert json.loads(capsys.readouterr().out)["current"] is None
    assert run(_avel(data_dir, "--db", pg_url, "db", "upgrade")) == 0
    capsys.readouterr()
    assert run(_avel(data_dir, "--db", pg_url, "--json", "db", "current")) == 0
    assert json.loads(capsys.readouterr().out)["up_to_date"] is True


def test_console_script_help_and_exit_code(data_dir: Path, tmp_path: Path):
    exe = Path(sys.executable).with_name("avel")
    env = {**os.environ, "AVEL_DATA_DIR": str(data_dir)}
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, env=env)
    assert out.returncode == 0 and "clips" in out.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("abcdefghijk,1,,train\n")
    out = subprocess.run(
        [exe, "clips", "import", str(bad)], capture_output=True, text=True, env=env
    )
    assert out.returncode == 1
    assert f"{bad}:1: empty label" in out.stderr
    assert "Traceback" not in out.stderr


def test_settings_precedence_option_env_file(data_dir: Path):
    from avel_annotate.config import load_settings, write_config_values

    cfg = data_dir / "config.toml"
    write_config_values(cfg, {"ls_url": "http://file:1", "ls_api_key": "tok-file"})
    assert oct(cfg.stat().st_mode & 0o777) == "0o600"
    s = load_settings(data_dir=data_dir, environ={})
    assert (s.ls_url, s.ls_api_key) == ("http://file:1", "tok-file")
    assert "tok-file" not in repr(s)
    s = load_settings(data_dir=data_dir, environ={"AVEL_LS_URL": "http://env:2"})
    assert s.ls_url == "http://env:2"
    s = load_settings(
        data_dir=data_dir,
        environ={"AVEL_LS_URL": "http://env:2"},
        overrides={"ls_url": "http://opt:3"},
    )
    assert s.ls_url == "http://opt:3"
    assert s.db_url == f"sqlite:///{(data_dir / 'avel.db').resolve()}"
    pg = load_settings(data_dir=data_dir, db_url="postgres://u@h/db", environ={})
    assert pg.db_url == "postgresql+psycopg://u@h/db"


def test_usage_errors_exit_2_and_dash_ids_get_a_hint(data_dir: Path, capsys: pytest.CaptureFixture):
    assert run(_avel(data_dir, "clips", "list", "--bogus")) == 2
    assert "No such option: --bogus" in capsys.readouterr().err
    assert (
        run(_avel(data_dir, "annotate", "adjudicate", "-emo0000000_000000", "--accept", "1")) == 2
    )
    err = capsys.readouterr().err
    assert "hint: ids that start with '-' go after `--`" in err
    assert "Traceback" not in err
