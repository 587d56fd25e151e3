"""`avel export`."""

from __future__ import annotations

from pathlib import Path

import typer

from avel_annotate.cli.output import JSON, env
from avel_annotate.cli.render import kv
from avel_annotate.services import export as service

D = service.ExportOptions  # the defaults of the options below


def _view(report: service.ExportReport) -> None:
    kv(
        f"exported {report.clips} clips as {report.format}",
        {
            "files": ", ".join(report.files),
            "card": report.card,
            **{f"{k} clips": v for k, v in report.by_split.items()},
        },
    )


def export(
    ctx: typer.Context,
    out: Path = typer.Argument(..., help="Output folder (or a .csv / .jsonl file)."),
    fmt: str = typer.Option(..., "--format", "-f", help="ave-h5 | csv | jsonl"),
    split: str | None = typer.Option(D.split, "--split", help="Only this split (default: all)."),
    labels: str = typer.Option(D.labels, "--labels", help="curated | list."),
    features: str | None = typer.Option(D.features, "--features", help="Feature kind (ave-h5)."),
    allow_random: bool = typer.Option(D.allow_random_features, "--allow-random-features"),
    force: bool = typer.Option(D.force, "--force", help="Replace existing export files."),
    json_out: bool = JSON,
) -> None:
    """Export labelled clips with a dataset card (counts, agreement, label definition)."""
    e = env(ctx)
    options = service.ExportOptions(split=split, labels=labels, features=features,
                                    allow_random_features=allow_random, force=force)  # fmt: skip
    report = service.export(e.store, e.settings, fmt, out, options)
    e.out(json_out).show(report, _view)
