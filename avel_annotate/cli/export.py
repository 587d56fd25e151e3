"""`avel export`."""

from __future__ import annotations

from pathlib import Path

import typer

from avel_annotate.cli.output import JSON, env
from avel_annotate.cli.render import emit_json, kv
from avel_annotate.services import export as service


def export(
    ctx: typer.Context,
    out: Path = typer.Argument(..., help="Output folder (or a .csv / .jsonl file)."),
    fmt: str = typer.Option(..., "--format", "-f", help="ave-h5 | csv | jsonl"),
    split: str | None = typer.Option(None, "--split", help="Only this split (default: all)."),
    labels: str = typer.Option("curated", "--labels", help="curated | list."),
    features: str | None = typer.Option(None, "--features", help="Feature kind (ave-h5)."),
    allow_random: bool = typer.Option(False, "--allow-random-features"),
    force: bool = typer.Option(False, "--force", help="Replace existing export files."),
    json_out: bool = JSON,
) -> None:
    """Export labelled clips with a dataset card (counts, agreement, label definition)."""
    e = env(ctx)
    settings = e.settings
    report = service.export(
        settings,
        fmt,
        out,
        split=split,
        labels=labels,
        features=features,
        allow_random_features=allow_random,
        force=force,
    )
    if e.out(json_out).json:
        emit_json(report)
    else:
        kv(
            f"exported {report.clips} clips as {report.format}",
            {
                "files": ", ".join(report.files),
                "card": report.card,
                **{f"{k} clips": v for k, v in report.by_split.items()},
            },
        )
