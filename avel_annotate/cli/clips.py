"""`avel clips import|import-split|stats|list` and `avel split assign`."""

from __future__ import annotations

from pathlib import Path

import typer

from avel_annotate.cli.output import JSON, env
from avel_annotate.cli.render import counts, emit_json, kv, line, rows
from avel_annotate.services import clips, splits

app = typer.Typer(help="Clip lists: import them, inspect what is stored.")
split_app = typer.Typer(help="Train/val/test splits.")

FORMAT_HELP = "vggsound | vggsound-files | ave | avel100k (detected when omitted)"


@app.command("import")
def import_(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="The clip list (CSV or AVE Annotations.txt)."),
    fmt: str | None = typer.Option(None, "--format", "-f", help=FORMAT_HELP),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Import the valid rows; write the bad ones to a rejects file."
    ),
    rejects: Path | None = typer.Option(
        None,
        "--rejects",
        help="Where rejected rows go (default <data-dir>/rejects/<name>.rejects.csv).",
    ),
    json_out: bool = JSON,
) -> None:
    """Import a clip list. Every row is checked first; one bad row imports nothing."""
    e = env(ctx)
    settings = e.settings
    report = clips.import_clip_list(
        settings, path, fmt, skip_invalid=skip_invalid, rejects_path=rejects
    )
    if e.out(json_out).json:
        emit_json(report)
        return
    for problem in report.problems:
        line(f"skipped {problem}")
    for warning in report.warnings:
        line(warning)
    kv(
        f"imported {report.path} ({report.format})",
        {
            "rows": report.rows,
            "new clips": report.clips_new,
            "updated clips": report.clips_updated,
            "unchanged clips": report.clips_unchanged,
            "new categories": report.categories_new,
            "new events": report.events_new,
            "rejected rows": report.rejected,
            "rejects file": report.rejects_path,
        },
    )


@app.command("stats")
def stats(ctx: typer.Context, json_out: bool = JSON) -> None:
    """Counts of clips by status, split and category, and curated clips by split."""
    e = env(ctx)
    settings = e.settings
    report = clips.clip_stats(settings)
    if e.out(json_out).json:
        emit_json(report)
        return
    kv("clips", {"total": report.total, "short (padded)": report.short})
    counts("by status", report.by_status, "status")
    counts("by split", report.by_split, "split")
    counts("curated labels by split", report.curated_by_split, "split")
    top = dict(sorted(report.by_category.items(), key=lambda kv: -kv[1])[:20])
    counts(f"by category (top {len(top)} of {len(report.by_category)})", top, "category")


@app.command("list")
def list_(
    ctx: typer.Context,
    status: str | None = typer.Option(None, "--status", help="Only clips with this fetch status."),
    split: str | None = typer.Option(None, "--split", help="Only clips of this split."),
    limit: int | None = typer.Option(None, "--limit", min=1),
    json_out: bool = typer.Option(False, "--json", help="One JSON record per clip."),
) -> None:
    """List clips with their paths and status."""
    e = env(ctx)
    settings = e.settings
    records = clips.list_clips(settings, status=status, split=split, limit=limit)
    if e.out(json_out).json:
        emit_json(records)
        return
    rows(
        f"{len(records)} clip(s)",
        ["clip", "category", "split", "status", "media", "list events"],
        [
            (r.clip_id, r.category, r.split, r.status, r.media_path, "; ".join(r.events))
            for r in records
        ],
    )


@app.command("import-split")
def import_split(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(
        ...,
        help="train_order.h5 val_order.h5 test_order.h5 (the AVE release) or trainSet.txt "
        "valSet.txt testSet.txt (the AVE zip).",
    ),
    json_out: bool = JSON,
) -> None:
    """Set the AVE benchmark train/val/test split of the imported Annotations rows."""
    e = env(ctx)
    settings = e.settings
    report = clips.import_ave_split(settings, paths)
    if e.out(json_out).json:
        emit_json(report)
        return
    kv(
        "AVE split imported",
        {
            **{f"{k} rows": v for k, v in sorted(report.rows_by_split.items())},
            **{f"{k} clips": v for k, v in sorted(report.clips_by_split.items())},
            "rows without a split": report.rows_without_split,
            "videos with rows in two splits": report.clips_spanning_splits,
        },
    )


@split_app.command("assign")
def assign(
    ctx: typer.Context,
    ratios: str = typer.Option("60/20/20", "--ratios", help="train/val/test proportions."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same assignment."),
    include_list_splits: bool = typer.Option(
        False, "--include-list-splits", help="Also re-split clips whose list gave a split."
    ),
    force: bool = typer.Option(False, "--force", help="Also move clips that have annotations."),
    json_out: bool = JSON,
) -> None:
    """Assign train/val/test stratified by category, reproducibly."""
    e = env(ctx)
    settings = e.settings
    report = splits.assign(
        settings, ratios, seed, include_list_splits=include_list_splits, force=force
    )
    if e.out(json_out).json:
        emit_json(report)
        return
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
