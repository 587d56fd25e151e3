"""`avel clips import|import-split|stats|list`."""

from __future__ import annotations

from pathlib import Path

import typer

from avel_annotate.cli.output import JSON, env
from avel_annotate.cli.render import counts, kv, line, rows
from avel_annotate.services import ave_split, clips

app = typer.Typer(help="Clip lists: import them, inspect what is stored.")

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
    report = clips.import_clip_list(
        e.store, e.settings, path, fmt, skip_invalid=skip_invalid, rejects_path=rejects
    )
    e.out(json_out).show(report, _import_view)


def _import_view(report: clips.ImportReport) -> None:
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
    e.out(json_out).show(clips.clip_stats(e.store), _stats_view)


def _stats_view(report: clips.ClipStats) -> None:
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
    records = clips.list_clips(e.store, e.settings, status=status, split=split, limit=limit)
    e.out(json_out).show(records, _list_view)


def _list_view(records: list[clips.ClipRecord]) -> None:
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
    e.out(json_out).show(ave_split.import_ave_split(e.store, paths), _import_split_view)


def _import_split_view(report: ave_split.SplitImportReport) -> None:
    kv(
        "AVE split imported",
        {
            **{f"{k} rows": v for k, v in sorted(report.rows_by_split.items())},
            **{f"{k} clips": v for k, v in sorted(report.clips_by_split.items())},
            "rows without a split": report.rows_without_split,
            "videos with rows in two splits": report.clips_spanning_splits,
        },
    )
