"""`avel annotate gold add|list|remove`, and the gold part of `avel annotate qc report`."""

from __future__ import annotations

from pathlib import Path

import typer

from avel_annotate.cli.output import JSON, env
from avel_annotate.cli.render import columns, kv, rows, say
from avel_annotate.errors import ConfigError
from avel_annotate.services import gold
from avel_annotate.services.gold import GoldReport, TruthFigures

app = typer.Typer(help="Gold clips: known labels, mixed into first-pass pushes unannounced.")


@app.command("add")
def add(
    ctx: typer.Context,
    file: Path | None = typer.Argument(
        None, help="Expert pass: CSV with header clip_id,segments,category."
    ),
    from_curated: list[str] = typer.Option(
        [], "--from-curated", help="Clip whose agreed/adjudicated curated label is gold (repeat)."
    ),
    by: str | None = typer.Option(None, "--by", help="Who vouches (default: login name)."),
    json_out: bool = JSON,
) -> None:
    """Mark clips gold: from an expert file, or from their re-checked curated labels."""
    e = env(ctx)
    if (file is None) == (not from_curated):
        raise ConfigError("give exactly one of FILE and --from-curated CLIP", "see --help")
    if file is not None:
        r = gold.add_from_file(e.store, file, by=by)
    else:
        r = gold.add_from_curated(e.store, from_curated, by=by)
    e.out(json_out).show(r, _add_view)


def _add_view(r: gold.GoldAddReport) -> None:
    curated = r.curated.added + r.curated.changed
    kv(
        f"gold clips from {r.source}",
        {"added": r.added, "unchanged": r.unchanged, "curated labels set": curated},
    )


@app.command("list")
def list_(ctx: typer.Context, json_out: bool = JSON) -> None:
    """Gold clips, their labels, where they came from, copies pushed and answers."""
    e = env(ctx)
    e.out(json_out).show(gold.list_gold(e.store), _list_view)


def _list_view(found: list[gold.GoldClip]) -> None:
    rows(
        f"{len(found)} gold clip(s)",
        ["clip", "split", "segments", "category", "source", "copies", "answers"],
        [
            (
                g.clip_id,
                g.split,
                g.segments,
                g.category,
                f"{g.source} {g.source_ref}",
                g.task_copies,
                g.answers,
            )
            for g in found
        ],
    )


@app.command("remove")
def remove(
    ctx: typer.Context,
    clip_ids: list[str] = typer.Argument(..., help="Gold clips to unmark."),
    json_out: bool = JSON,
) -> None:
    """Unmark gold clips (their curated labels follow the annotations again)."""
    e = env(ctx)
    e.out(json_out).show(gold.remove(e.store, clip_ids), _remove_view)


def _remove_view(r: gold.GoldRemoveReport) -> None:
    kv("gold clips removed", {"clips": len(r.removed), "curated removed": r.curated.removed})


def print_gold(g: GoldReport | None) -> None:
    """The gold section of the text `qc report`: literal, one row per annotator."""
    if g is None:
        return
    say()
    say(
        f"accuracy on gold ({g.gold_clips} gold clips, {g.answers} answers; flagged under "
        f"{100 * g.threshold:g} % of seconds or categories, with at least {g.min_answers} answers)"
    )
    header = ("annotator", "answers", "seconds %", "category %", "exact %", "status")
    body = [
        (
            s.annotator,
            str(s.answers),
            f"{s.seconds_pct:.1f} ({s.seconds_right}/{s.seconds_total})",
            f"{s.category_pct:.1f} ({s.categories_right}/{s.answers})",
            f"{s.exact_pct:.1f} ({s.exact}/{s.answers})",
            s.status.upper() if s.status == "flagged" else s.status,
        )
        for s in g.per_annotator
    ]
    columns([header, *body])
    for step in g.next_steps:
        say(f"next: {step}")
    say()
    say("acceptance of pre-filled predictions (kept = submitted equal to the prediction)")
    accept_header = (
        "annotator",
        "pre-filled",
        "kept %",
        "gold: pred right % / kept % / kept wrong",
        "re-checked: pred right % / kept % / kept wrong",
    )
    accept_body = [
        (
            a.annotator,
            str(a.prefilled),
            f"{a.kept_pct:.1f} ({a.kept}/{a.prefilled})",
            _truth(a.on_gold),
            _truth(a.on_rechecked),
        )
        for a in g.acceptance
    ]
    columns([accept_header, *accept_body])


def _truth(t: TruthFigures) -> str:
    if not t.tasks:
        return "-"
    return f"{t.prediction_right_pct:.1f} / {t.kept_pct:.1f} / {t.kept_when_wrong} (n={t.tasks})"
