"""A new SQLite store opened while another connection writes to it in rollback mode.

SQLite refuses ``PRAGMA journal_mode=WAL`` at once ("database is locked", without waiting out the
busy timeout) while another connection holds a lock on a file that is not in WAL mode yet: the
state of a brand-new store that several processes open together (CI caught one of four racing
first commands failing so). Each test holds such a lock for a second in another thread, with the
plain sqlite3 driver, and opens the store meanwhile.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from avel_annotate.store.engine import enable_wal, make_engine
from avel_annotate.store.migrate import _sqlite_migration_engine


@contextmanager
def rollback_mode_writer(path: Path, hold_s: float = 1.0) -> Iterator[None]:
    """Another connection holding a write lock on ``path`` (rollback journal) for ``hold_s``."""
    locked = threading.Event()
    failure: list[BaseException] = []

    def write() -> None:
        try:
            conn = sqlite3.connect(path, isolation_level=None)
            conn.execute("CREATE TABLE other (i INTEGER)")
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO other VALUES (1)")
            locked.set()
            threading.Event().wait(hold_s)
            conn.execute("COMMIT")
            conn.close()
        except BaseException as e:  # reported by the test, not lost in the thread
            failure.append(e)
            locked.set()

    thread = threading.Thread(target=write)
    thread.start()
    assert locked.wait(10)
    try:
        yield
    finally:
        thread.join(10)
        assert not failure, failure


def _journal_mode(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("PRAGMA journal_mode")).scalar())


def test_the_plain_driver_refuses_the_switch_at_once(tmp_path: Path) -> None:
    """What the fix is for: the refusal is SQLite's, with a busy timeout set."""
    path = tmp_path / "avel.db"
    with rollback_mode_writer(path):
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            conn.execute("PRAGMA journal_mode=WAL")
        conn.close()


@pytest.mark.parametrize("which", ["store", "migration"])
def test_a_new_store_opens_while_another_connection_writes(tmp_path: Path, which: str) -> None:
    path = tmp_path / "avel.db"
    with rollback_mode_writer(path):
        engine = (
            make_engine(f"sqlite:///{path}") if which == "store" else _sqlite_migration_engine(path)
        )
        assert _journal_mode(engine) == "wal"  # waited for the writer instead of failing
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM other")).scalar() == 1
    engine.dispose()


def test_the_retry_gives_up_after_its_timeout(tmp_path: Path) -> None:
    path = tmp_path / "avel.db"
    with rollback_mode_writer(path, hold_s=1.0):
        conn = sqlite3.connect(path, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            enable_wal(conn.cursor(), timeout_s=0.05)
        conn.close()
