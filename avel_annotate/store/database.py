"""The `Store`: one open database for one command.

A command builds one ``Store`` (an engine on a database whose schema is at the migration head)
and hands it to the service it calls; every unit of work is a short ``store.session()`` block
that commits or rolls back; ``close()`` (or leaving the ``with`` block) disposes the engine.
Worker threads of one command share the store: each takes its own sessions from it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from avel_annotate.store.engine import is_postgres, make_engine, safe_url, session_scope
from avel_annotate.store.migrate import ensure_schema

__all__ = ["Session", "Store"]


class Store:
    """An open database: ``with Store.open(url) as store: with store.session() as s: ...``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._closed = False
        self._lock = threading.Lock()
        self._open_sessions = 0

    @classmethod
    def open(cls, url: str) -> Store:
        """Open the database at ``url``; a new one is created at the head revision, an outdated
        one refuses with the command that upgrades it."""
        engine = make_engine(url)
        try:
            ensure_schema(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def is_postgres(self) -> bool:
        return is_postgres(self._engine)

    @property
    def url(self) -> str:
        """The database URL with any password masked, for messages."""
        return safe_url(str(self._engine.url))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: commits when the block ends, rolls back when it raises. Keep it
        short, and never make a network call inside one (on SQLite it holds the write lock)."""
        with self._lock:
            self._open_sessions += 1
        try:
            with session_scope(self._engine) as session:
                yield session
        finally:
            with self._lock:
                self._open_sessions -= 1

    @property
    def open_sessions(self) -> int:
        """Units of work open right now (any thread): tests check it is 0 at every network
        call a service makes."""
        return self._open_sessions

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url})"
