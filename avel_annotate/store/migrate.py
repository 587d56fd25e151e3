"""Alembic runner: migrations are the only way the schema changes.

The revisions live in ``migrations/`` at the top of the repository and are shipped inside the
wheel as the ``avel_annotate.migrations`` package, so an installed copy can upgrade a database.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect
from sqlalchemy.exc import OperationalError

from avel_annotate.errors import SchemaOutdatedError, StoreError
from avel_annotate.store.engine import safe_url

log = logging.getLogger(__name__)


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
    except OperationalError as e:
        raise StoreError(
            f"cannot open database {safe_url(str(engine.url))}: "
            f"{str(e.orig).strip().splitlines()[0]}",
            "check that the server is running and the URL is right",
        ) from e


@dataclass(frozen=True)
class UpgradeReport:
    url: str
    before: str | None
    after: str


def upgrade(engine: Engine, revision: str = "head") -> UpgradeReport:
    before = current_revision(engine)
    command.upgrade(alembic_config(engine), revision)
    after = current_revision(engine) or ""
    log.info("database %s: %s -> %s", safe_url(str(engine.url)), before, after)
    return UpgradeReport(url=safe_url(str(engine.url)), before=before, after=after)


def _known(revision: str) -> bool:
    script = ScriptDirectory(str(_script_location()))
    return any(r.revision == revision for r in script.walk_revisions())


def _is_empty(engine: Engine) -> bool:
    names = set(inspect(engine).get_table_names())
    return not (names - {"alembic_version"})


def ensure_schema(engine: Engine) -> None:
    """Create a new database by upgrading it to head; refuse an outdated one.

    A database with no tables is new and is brought to head. One whose revision differs from the
    head stops every command with a message naming ``avel db upgrade``.
    """
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    if current is None and _is_empty(engine):
        upgrade(engine)
        return
    if current is not None and not _known(current):
        raise SchemaOutdatedError(
            f"database {safe_url(str(engine.url))} is at revision {current}, which this "
            "avel-annotate does not know (written by a newer version?)",
            "upgrade avel-annotate, or point --db at another database",
        )
    raise SchemaOutdatedError(
        f"database {safe_url(str(engine.url))} is at revision {current or 'none'}, "
        f"this avel-annotate needs {head}",
        "run `avel db upgrade`",
    )
