"""`avel db upgrade|current`."""

from __future__ import annotations

import typer

from avel_annotate.cli.output import JSON, env
from avel_annotate.cli.render import emit_json, kv
from avel_annotate.services import store

app = typer.Typer(help="Database schema: upgrade to the newest revision, show the current one.")


@app.command("upgrade")
def upgrade(
    ctx: typer.Context,
    revision: str = typer.Argument("head", help="Target revision."),
) -> None:
    """Create or upgrade the database to the newest schema (Alembic migrations)."""
    e = env(ctx)
    settings = e.settings
    report = store.db_upgrade(settings, revision)
    if e.json:
        emit_json(report)
    else:
        kv("database upgraded", {"url": report.url, "from": report.before, "to": report.after})


@app.command("current")
def current(ctx: typer.Context, json_out: bool = JSON) -> None:
    """Show the database's schema revision and whether it is the newest."""
    e = env(ctx)
    settings = e.settings
    report = store.db_current(settings)
    if e.out(json_out).json:
        emit_json({**report.__dict__, "up_to_date": report.up_to_date, "state": report.state})
    else:
        state = report.state
        kv(
            "database",
            {"url": report.url, "revision": report.current, "head": report.head, "state": state},
        )
