"""Engine and transaction scope.

``session_scope()`` owns the transaction: it commits when the block ends and rolls back when it
raises. Query functions take the session and never commit. SQLite gets WAL, foreign keys and a
busy timeout so several worker threads of one process can share the file.

Switching a database to WAL ignores the busy timeout: SQLite (3.40 here) answers "database is
locked" at once when another connection holds a lock on a file still in rollback mode, as a new
database is until its first connection has switched it. Several processes opening a new store at
once meet exactly that, so ``enable_wal`` retries the switch for as long as the busy timeout.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from avel_annotate.config import normalise_db_url
from avel_annotate.errors import AvelError, ConfigError, StoreError


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


BUSY_TIMEOUT_S = 30.0


def enable_wal(cursor: Any, timeout_s: float = BUSY_TIMEOUT_S) -> None:
    """``PRAGMA journal_mode=WAL``, tried again while another connection's lock refuses it."""
    deadline = time.monotonic() + timeout_s
    delay = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e).lower() or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    enable_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def sqlite_path(engine: Engine) -> Path | None:
    """The file of a SQLite database (``None`` for PostgreSQL or an in-memory database)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    return Path(database) if database and database != ":memory:" else None


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names, without opening it (``None`` for PostgreSQL or memory)."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return None
    database = parsed.database
    return Path(database) if database and database != ":memory:" else None


# What a failing database raises at a caller's unit of work: ``session_scope`` turns driver
# errors into StoreError, and a caller that must tell "the store went away" from anything else
# (a fetch worker) catches these without importing SQLAlchemy itself.
STORE_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError, StoreError)

OPEN = "cannot be opened"


def db_error(engine: Engine, e: SQLAlchemyError, doing: str = "failed") -> StoreError:
    """One StoreError for a driver error, with the fix that fits the backend and the cause."""
    orig = getattr(e, "orig", None) or e
    first = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    path = sqlite_path(engine)
    if path is None and engine.dialect.name == "sqlite":
        return StoreError(f"in-memory database {doing}: {first}")
    if path is None:
        url = safe_url(str(engine.url))
        what = f"cannot open database {url}" if doing == OPEN else f"database {url} {doing}"
        return StoreError(
            f"{what}: {first}",
            "check that the server is running and the URL is right",
        )
    low = first.lower()
    if "not a database" in low or "malformed" in low or "corrupt" in low:
        return StoreError(
            f"database file {path} is corrupt or not a SQLite database ({first})",
            f"restore it from a backup, or move it away (mv {path} {path}.corrupt) to start a new "
            "store",
        )
    if "readonly" in low or "read-only" in low or "unable to open" in low:
        return StoreError(
            f"cannot write the database {path} ({first})",
            f"make {path.parent} and the files in it writable, or use --data-dir/--db elsewhere",
        )
    if "disk is full" in low or "disk i/o" in low:
        return StoreError(
            f"database {path} {doing}: {first}", f"free space on the disk holding {path.parent}"
        )
    if "locked" in low or "busy" in low:
        return StoreError(
            f"database {path} {doing}: {first}",
            "another avel process holds it too long; wait for it or stop it",
        )
    return StoreError(f"database {path} {doing}: {first}")


def make_engine(url: str) -> Engine:
    url = normalise_db_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise ConfigError(
            f"database URL {url!r} is not valid",
            "use sqlite:///path/avel.db or postgresql://user@host/db",
        ) from e
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(
                    f"cannot create the database folder {folder}: {e.strerror}",
                    "make its parent writable, or use --data-dir/--db elsewhere",
                ) from e
        engine = create_engine(
            url, connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    try:
        return create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=8)
    except (ImportError, ArgumentError) as e:
        raise ConfigError(f"cannot use database URL {safe_url(url)}: {e}") from e


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    session = sessionmaker(bind=engine, expire_on_commit=False)()
    try:
        yield session
        session.commit()
    except OperationalError as e:
        session.rollback()
        raise db_error(engine, e) from e
    except AvelError:
        session.rollback()
        raise
    except SQLAlchemyError as e:
        session.rollback()
        raise StoreError(f"database {safe_url(str(engine.url))}: {e}") from e
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
