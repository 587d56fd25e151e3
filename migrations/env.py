"""Alembic environment: runs against the engine the toolkit hands over."""

from __future__ import annotations

from alembic import context

from avel_annotate.store.tables import Base

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # plain `alembic` CLI use: build one from sqlalchemy.url
    from avel_annotate.store.engine import make_engine

    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")


def run_migrations_online() -> None:
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            # one transaction for the whole upgrade, SQLite included (the toolkit migrates SQLite
            # on an engine with real BEGIN/COMMIT, see store/migrate.py): other processes see
            # the old revision or the new one, never one in between
            transactional_ddl=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; use `avel db upgrade`")
run_migrations_online()
