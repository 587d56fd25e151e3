"""Alembic runner: migrations are the only way the schema changes.

The revisions live in ``migrations/`` at the top of the repository and are shipped inside the
wheel as the ``avel_annotate.migrations`` package, so an installed copy can upgrade a database.

Creating or upgrading a schema is atomic and serialised:

- one process at a time (``schema_lock``): a lock file beside a SQLite database
  (``<db>.schema-lock``, ``flock``), a session-level ``pg_advisory_lock`` on PostgreSQL; whoever
  gets the lock second finds the work done and does nothing;
- in one transaction: PostgreSQL has transactional DDL; on SQLite the migration runs on its own
  engine in ``BEGIN IMMEDIATE`` ... ``COMMIT`` (pysqlite would otherwise commit each CREATE
  TABLE on its own), with foreign keys off so batch table rebuilds cannot cascade deletes. A
  kill during creation leaves the database as it was before.
- a SQLite database half-created by an older version (tables, no revision, no rows) is named in
  the error, and ``avel db upgrade`` recreates it; one with rows is never dropped.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine, create_engine, event, func, inspect, select, table, text
from sqlalchemy.exc import SQLAlchemyError

from avel_annotate.errors import SchemaOutdatedError, StoreError
from avel_annotate.store.engine import (
    BUSY_TIMEOUT_S,
    OPEN,
    db_error,
    enable_wal,
    safe_url,
    sqlite_path,
)

log = logging.getLogger(__name__)
LOCK_TIMEOUT_S = 300.0
_PG_LOCK_KEY = 0x6176656C5F736368  # "avel_sch": one advisory lock for schema work


def _script_location() -> Path:
    return Path(str(resources.files("avel_annotate.migrations")))


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_script_location()))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    script = ScriptDirectory(str(_script_location()))
    head = script.get_current_head()
    if head is None:
        raise StoreError("no migrations found in the package", "reinstall avel-annotate")
    return head


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as e:
        raise db_error(engine, e, OPEN) from e


def is_known_revision(revision: str) -> bool:
    script = ScriptDirectory(str(_script_location()))
    return any(r.revision == revision for r in script.walk_revisions())


@dataclass(frozen=True)
class UpgradeReport:
    url: str
    before: str | None
    after: str


# -- the lock ------------------------------------------------------------------------------------


@contextmanager
def schema_lock(engine: Engine, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the schema lock of this database (a lock file for SQLite, an advisory lock on PG)."""
    path = sqlite_path(engine)
    if engine.dialect.name == "postgresql":
        with _pg_lock(engine, timeout_s):
            yield
    elif path is not None:
        with _file_lock(path.with_name(path.name + ".schema-lock"), timeout_s):
            yield
    else:  # in-memory SQLite: one connection, nobody to race
        yield


@contextmanager
def _file_lock(lock_path: Path, timeout_s: float) -> Iterator[None]:
    import fcntl

    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        raise StoreError(
            f"cannot create the schema lock {lock_path}: {e.strerror}",
            f"make {lock_path.parent} writable, or use --data-dir/--db elsewhere",
        ) from e
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"another avel process has held the schema lock {lock_path} for "
                        f"{timeout_s:.0f} s",
                        "wait for it to finish, or stop it",
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing releases the flock


@contextmanager
def _pg_lock(engine: Engine, timeout_s: float) -> Iterator[None]:
    try:
        conn = engine.connect()
        ms = f"{int(timeout_s * 1000)}ms"  # for this transaction only: the wait for the lock
        conn.execute(text("SELECT set_config('lock_timeout', :ms, true)"), {"ms": ms})
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
        conn.commit()
    except SQLAlchemyError as e:
        raise db_error(engine, e, "could not be locked for a schema change") from e
    try:
        yield
    finally:
        try:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
            conn.commit()
        finally:
            conn.close()


# -- one atomic migration ------------------------------------------------------------------------


def _sqlite_migration_engine(path: Path) -> Engine:
    """An engine whose transactions are real ones, DDL included (``BEGIN IMMEDIATE``)."""
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": BUSY_TIMEOUT_S})

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver no longer commits DDL on its own
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=OFF")  # batch rebuilds must not cascade deletes
        cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        enable_wal(cursor)
        cursor.close()

    def on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", on_begin)
    return engine


def _run_alembic(engine: Engine, revision: str, *, down: bool = False) -> None:
    path = sqlite_path(engine)
    target = _sqlite_migration_engine(path) if path is not None else engine
    try:
        if down:
            command.downgrade(alembic_config(target), revision)
        else:
            command.upgrade(alembic_config(target), revision)
    except CommandError as e:
        raise StoreError(
            f"database {safe_url(str(engine.url))}: {e}",
            "`avel db current` shows the revision; `avel db upgrade` goes to the newest",
        ) from e
    except SQLAlchemyError as e:
        raise db_error(engine, e, "could not be migrated (nothing was changed)") from e
    finally:
        if target is not engine:
            target.dispose()


def _user_tables(engine: Engine) -> set[str]:
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    except SQLAlchemyError as e:
        raise db_error(engine, e, OPEN) from e


def _half_created(engine: Engine) -> str:
    path = sqlite_path(engine)
    where = str(path) if path is not None else safe_url(str(engine.url))
    return (
        f"database {where} has tables but no schema revision: its creation was interrupted "
        "(e.g. by a kill during first use) or it was not made by avel-annotate"
    )


def _recreate_if_empty(engine: Engine) -> None:
    """Drop the tables of a half-created database, provided every one of them is empty."""
    names = _user_tables(engine)
    with engine.connect() as conn:
        rows = sum(int(conn.scalar(select(func.count()).select_from(table(n))) or 0) for n in names)
    if rows:
        path = sqlite_path(engine)
        raise StoreError(
            f"{_half_created(engine)}; it holds {rows} row(s), so it is left alone",
            f"move {path} away and import again" if path else "use an empty database",
        )
    log.warning("%s; recreating it (its %d tables are empty)", _half_created(engine), len(names))
    path = sqlite_path(engine)
    target = _sqlite_migration_engine(path) if path is not None else engine
    try:
        with target.begin() as conn:
            for name in names:
                conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    finally:
        if target is not engine:
            target.dispose()


def upgrade(engine: Engine, revision: str = "head") -> UpgradeReport:
    """Upgrade (or create) the schema under the schema lock, atomically."""
    with schema_lock(engine):
        before = current_revision(engine)  # another process may have done it meanwhile
        if before is not None and not is_known_revision(before):
            raise SchemaOutdatedError(_newer_message(engine, before), _NEWER_HINT)
        if before is None and _user_tables(engine):
            _recreate_if_empty(engine)
        _run_alembic(engine, revision)
        after = current_revision(engine) or ""
    log.info("database %s: %s -> %s", safe_url(str(engine.url)), before, after)
    return UpgradeReport(url=safe_url(str(engine.url)), before=before, after=after)


def downgrade(engine: Engine, revision: str) -> UpgradeReport:
    with schema_lock(engine):
        before = current_revision(engine)
        _run_alembic(engine, revision, down=True)
        after = current_revision(engine) or ""
    return UpgradeReport(url=safe_url(str(engine.url)), before=before, after=after)


_NEWER_HINT = "upgrade avel-annotate, or point --db at another database"


def _newer_message(engine: Engine, current: str) -> str:
    return (
        f"database {safe_url(str(engine.url))} is at revision {current}, which this "
        "avel-annotate does not know (written by a newer version?)"
    )


def ensure_schema(engine: Engine) -> None:
    """Create a new database by upgrading it to head; refuse an outdated one.

    A database with no tables is new and is brought to head (under the schema lock, so several
    first commands at once create it once). One whose revision differs from the head stops
    every command with a message naming ``avel db upgrade``.
    """
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    if current is None and not _user_tables(engine):
        with schema_lock(engine):
            if current_revision(engine) is None and not _user_tables(engine):
                _run_alembic(engine, "head")
        current = current_revision(engine)
        if current == head:
            return
    if current is None:
        raise SchemaOutdatedError(
            _half_created(engine),
            "run `avel db upgrade`: it recreates the database when its tables are empty",
        )
    if not is_known_revision(current):
        raise SchemaOutdatedError(_newer_message(engine, current), _NEWER_HINT)
    raise SchemaOutdatedError(
        f"database {safe_url(str(engine.url))} is at revision {current}, "
        f"this avel-annotate needs {head}",
        "run `avel db upgrade`",
    )
