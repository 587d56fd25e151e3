"""`avel split assign`."""

from __future__ import annotations

import typer

from avel_annotate.cli.output import JSON, env
from avel_annotate.cli.render import kv
from avel_annotate.services import splits

app = typer.Typer(help="Train/val/test splits.")


@app.command("assign")
def assign(
    ctx: typer.Context,
    ratios: str = typer.Option(
        splits.DEFAULT_RATIOS, "--ratios", help="train/val/test proportions."
    ),
    seed: int = typer.Option(splits.DEFAULT_SEED, "--seed", help="Same seed, same assignment."),
    include_list_splits: bool = typer.Option(
        False, "--include-list-splits", help="Also re-split clips whose list gave a split."
    ),
    force: bool = typer.Option(False, "--force", help="Also move clips that have annotations."),
    json_out: bool = JSON,
) -> None:
    """Assign train/val/test stratified by category, reproducibly."""
    e = env(ctx)
    report = splits.assign(
        e.store, ratios, seed, include_list_splits=include_list_splits, force=force
    )
    e.out(json_out).show(report, _assign_view)


def _assign_view(report: splits.SplitReport) -> None:
    kv(
        f"splits assigned ({report.ratios}, seed {report.seed})",
        {
            "clips considered": report.considered,
            "moved from another split": report.moved,
            "kept (split from the list)": report.kept_list,
            "kept (annotated)": report.kept_annotated,
            **{f"now {k}": v for k, v in report.counts.items()},
        },
    )
