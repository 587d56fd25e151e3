"""`avel report`."""

from __future__ import annotations

from pathlib import Path

import typer

from avel_annotate.cli.output import JSON, env
from avel_annotate.cli.render import line
from avel_annotate.services.report import ReportSummary, write_report


def _view(summary: ReportSummary) -> None:
    line(
        f"report written to {summary.out} ({summary.clips} clips, "
        f"{summary.model_versions} model versions)"
    )


def report(
    ctx: typer.Context,
    out: Path | None = typer.Option(
        None, "--out", help="HTML file (default <data-dir>/report.html)."
    ),
    json_out: bool = JSON,
    figure: list[Path] = typer.Option(
        [], "--figure", help="An SVG/PNG plot to embed (repeatable), e.g. the loop benchmark's."
    ),
) -> None:
    """One self-contained HTML page: clips, fetch outcomes, agreement, models, timelines."""
    e = env(ctx)
    summary = write_report(e.store, e.settings, out, figure)
    e.out(json_out).show(summary, _view)
