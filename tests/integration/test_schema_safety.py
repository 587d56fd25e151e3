"""Schema creation and upgrade: atomic under a kill, serialised under concurrent first use.

Also the messages around the store: a half-created, corrupt, read-only or newer database names the
path and the fix.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from avel_annotate.cli.main import run
from avel_annotate.store.engine import db_error, make_engine
from avel_annotate.store.migrate import current_revision, head_revision
from avel_annotate.store.tables import Base

# A first command that stops for good in the middle of creating the schema: after 3 tables of
# revision 0001, or in revision 0002 (0001 done, its first check constraint added).
_STALL = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from alembic.operations import BatchOperations, Operations
    from avel_annotate.cli.main import run

    marker, where = sys.argv[1], sys.argv[2]
    cls, name, at = (
        (Operations, "create_table", 3) if where == "0001" else
        (BatchOperations, "create_check_constraint", 1)
    )
    real, n = getattr(cls, name), [0]
    def stall(self, *a, **k):
        out = real(self, *a, **k)
        n[0] += 1
        if n[0] == at:
            Path(marker).write_text("stalled")
            time.sleep(600)
        return out
    setattr(cls, name, stall)
    sys.exit(run(sys.argv[3:]))
    """
)


def _avel(data_dir: Path, db: str | None, *args: str) -> list[str]:
    return ["--data-dir", str(data_dir), *(["--db", db] if db else []), "--no-progress", *args]


def _tables(url: str) -> set[str]:
    from sqlalchemy import inspect

    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, data_dir: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{data_dir / 'avel.db'}"
    return request.getfixturevalue("pg_url")


@pytest.mark.parametrize("where", ["0001", "0002"])
def test_kill_during_creation_leaves_no_half_schema(
    db_url: str, data_dir: Path, tmp_path: Path, where: str
):
    marker = tmp_path / "stalled"
    args = _avel(data_dir, db_url, "clips", "stats")
    proc = subprocess.Popen(
        [sys.executable, "-c", _STALL, str(marker), where, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "the first command never reached the third table"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _tables(db_url) - {"alembic_version"} == set()  # the creation rolled back whole
    assert run(_avel(data_dir, db_url, "--json", "clips", "stats")) == 0
    engine = make_engine(db_url)
    assert current_revision(engine) == head_revision()
    engine.dispose()


# A first command without the CLI's imports: all processes wait for a start file, then open the
# store (what every command does first) or run `avel db upgrade`'s service function.
_RACER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from avel_annotate.config import load_settings
    from avel_annotate.services.store import db_upgrade, open_store

    start, url, data_dir, what = sys.argv[1:5]
    settings = load_settings(data_dir=Path(data_dir), db_url=url, environ={})
    while not Path(start).exists():
        time.sleep(0.01)
    if what == "upgrade":
        db_upgrade(settings)
    else:
        open_store(settings).close()
    """
)


@pytest.mark.parametrize("what", ["first-command", "upgrade"])
def test_four_processes_racing_the_first_use(db_url: str, data_dir: Path, tmp_path: Path, what):
    start = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, str(start), db_url, str(data_dir), what],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(4)
    ]
    time.sleep(3)  # let them all import and wait at the start line
    start.write_text("go")
    results = [(p.wait(timeout=300), p.stderr.read().decode() if p.stderr else "") for p in procs]
    assert [rc for rc, _ in results] == [0, 0, 0, 0], results
    engine = make_engine(db_url)
    assert current_revision(engine) == head_revision()
    engine.dispose()
    assert set(Base.metadata.tables) <= _tables(db_url)


def test_half_created_sqlite_database_is_named_and_recreated(data_dir: Path, capsys):
    path = data_dir / "avel.db"
    engine = make_engine(f"sqlite:///{path}")
    Base.metadata.tables["category"].create(engine)  # what an old, killed creation left
    engine.dispose()
    assert run(_avel(data_dir, None, "clips", "stats")) == 1
    err = capsys.readouterr().err
    assert f"database {path} has tables but no schema revision" in err
    assert "`avel db upgrade`" in err
    assert run(_avel(data_dir, None, "db", "upgrade")) == 0
    assert run(_avel(data_dir, None, "--json", "clips", "stats")) == 0


def test_half_created_database_with_rows_is_never_dropped(data_dir: Path, capsys):
    path = data_dir / "avel.db"
    engine = make_engine(f"sqlite:///{path}")
    Base.metadata.tables["category"].create(engine)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO category (name, created_at) VALUES ('dog', '2026-01-01')"))
    engine.dispose()
    assert run(_avel(data_dir, None, "db", "upgrade")) == 1
    err = capsys.readouterr().err
    assert str(path) in err and "holds 1 row(s), so it is left alone" in err
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT name FROM category").fetchall() == [("dog",)]


def test_corrupt_database_names_the_path_and_the_fix(data_dir: Path, capsys):
    path = data_dir / "avel.db"
    path.write_bytes(b"this is not a database" * 100)
    assert run(_avel(data_dir, None, "clips", "stats")) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: database file {path} is corrupt or not a SQLite database")
    assert f"mv {path} {path}.corrupt" in err and "unexpected" not in err


def test_read_only_database_is_not_a_server_problem(tmp_path: Path):
    path = tmp_path / "ro.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()
    engine = make_engine(f"sqlite:///{path}")
    ro = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as info:
        ro.execute("INSERT INTO t VALUES (1)")
    message = db_error(engine, OperationalError("INSERT", {}, info.value)).one_line()
    assert "server is running" not in message
    assert f"cannot write the database {path}" in message and f"make {tmp_path}" in message
    engine.dispose()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_data_dir_says_so(data_dir: Path, capsys):
    data_dir.chmod(0o555)
    try:
        assert run(_avel(data_dir, None, "clips", "stats")) == 1
    finally:
        data_dir.chmod(0o755)
    err = capsys.readouterr().err
    assert "server is running" not in err and str(data_dir) in err


def test_db_current_on_a_newer_revision_says_so(db_url: str, data_dir: Path, capsys):
    assert run(_avel(data_dir, db_url, "db", "upgrade")) == 0
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    capsys.readouterr()
    assert run(_avel(data_dir, db_url, "db", "current")) == 0
    out = capsys.readouterr().out
    assert "newer than this avel-annotate" in out and "run `avel db upgrade`" not in out
    assert run(_avel(data_dir, db_url, "db", "upgrade")) == 1
    err = capsys.readouterr().err
    assert "does not know (written by a newer version?)" in err and "upgrade avel-annotate" in err
