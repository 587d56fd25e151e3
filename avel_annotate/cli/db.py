"""`avel db upgrade|current`."""

from __future__ import annotations

from typing import Any

import typer

from avel_annotate.cli.output import JSON, env
from avel_annotate.cli.render import kv
from avel_annotate.services import store

app = typer.Typer(help="Database schema: upgrade to the newest revision, show the current one.")


@app.command("upgrade")
def upgrade(
    ctx: typer.Context,
    revision: str = typer.Argument(store.HEAD, help="Target revision."),
) -> None:
    """Create or upgrade the database to the newest schema (Alembic migrations)."""
    e = env(ctx)  # not e.store: opening it would refuse an outdated database
    e.out().show(store.db_upgrade(e.settings, revision), _upgrade_view)


def _upgrade_view(report: store.UpgradeReport) -> None:
    kv("database upgraded", {"url": report.url, "from": report.before, "to": report.after})


@app.command("current")
def current(ctx: typer.Context, json_out: bool = JSON) -> None:
    """Show the database's schema revision and whether it is the newest."""
    e = env(ctx)
    report = store.db_current(e.settings)
    shown = {**report.__dict__, "up_to_date": report.up_to_date, "state": report.state}
    e.out(json_out).show(shown, _current_view)


def _current_view(shown: dict[str, Any]) -> None:
    kv(
        "database",
        {
            "url": shown["url"],
            "revision": shown["current"],
            "head": shown["head"],
            "state": shown["state"],
        },
    )
