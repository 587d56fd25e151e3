"""Open the store for a command, and the `avel db` operations.

A command opens one :class:`Store` (``open_store``) and passes it to the service functions it
calls; they take short ``store.session()`` units of work from it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from avel_annotate.config import Settings
from avel_annotate.store.database import Store as Store
from avel_annotate.store.engine import Engine, make_engine, safe_url
from avel_annotate.store.migrate import (
    UpgradeReport,
    current_revision,
    head_revision,
    is_known_revision,
    upgrade,
)


def open_store(settings: Settings) -> Store:
    """The settings' database, at the migration head (a new empty database is created)."""
    return Store.open(settings.db_url)


HEAD = "head"  # the newest revision, the default of `avel db upgrade`


@contextmanager
def _bare_engine(settings: Settings) -> Iterator[Engine]:
    """An engine without the schema gate: `avel db` works on outdated and newer databases."""
    engine = make_engine(settings.db_url)
    try:
        yield engine
    finally:
        engine.dispose()


def db_upgrade(settings: Settings, revision: str = HEAD) -> UpgradeReport:
    with _bare_engine(settings) as engine:
        return upgrade(engine, revision)


@dataclass(frozen=True)
class DbCurrentReport:
    url: str
    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    @property
    def state(self) -> str:
        """What the revision means, with the fix: up to date, outdated, newer, or not created."""
        if self.up_to_date:
            return "up to date"
        if self.current is None:
            return "not created yet: any command (or `avel db upgrade`) creates it"
        if not is_known_revision(self.current):
            return (
                "newer than this avel-annotate (written by a newer version): upgrade avel-annotate"
            )
        return "outdated: run `avel db upgrade`"


def db_current(settings: Settings) -> DbCurrentReport:
    with _bare_engine(settings) as engine:
        return DbCurrentReport(
            url=safe_url(settings.db_url), current=current_revision(engine), head=head_revision()
        )
