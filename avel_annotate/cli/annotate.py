"""`avel annotate push|pull|adjudicate`; `qc` and `gold` are in their own modules."""

from __future__ import annotations

import typer

from avel_annotate.cli import gold as gold_cmd
from avel_annotate.cli import qc as qc_cmd
from avel_annotate.cli.output import JSON, env
from avel_annotate.cli.render import kv, line
from avel_annotate.services import annotate, qc

app = typer.Typer(help="Annotation in Label Studio: push tasks, pull labels, quality control.")
app.add_typer(qc_cmd.app, name="qc")
app.add_typer(gold_cmd.app, name="gold")

PROJECT = typer.Option(annotate.DEFAULT_PROJECT, "--project", help="Label Studio project title.")


_PUSH = annotate.PushOptions()


@app.command("push")
def push(
    ctx: typer.Context,
    project: str = PROJECT,
    split: str | None = typer.Option(_PUSH.split, "--split", help="Only clips of this split."),
    limit: int | None = typer.Option(_PUSH.limit, "--limit", min=1, help="At most N new tasks."),
    model: str | None = typer.Option(
        _PUSH.model, "--model", help="Attach this model's predictions."
    ),
    order: str = typer.Option(
        _PUSH.order,
        "--order",
        help="list | uncertainty (least sure first) | balanced (least sure of each predicted "
        "category in turn) | random.",
    ),
    seed: int = typer.Option(_PUSH.seed, "--seed", help="Seed of --order random and the gold mix."),
    gold_rate: float = typer.Option(
        _PUSH.gold_rate, "--gold-rate", help="Gold copies per new task."
    ),
    prefill_min_score: float | None = typer.Option(
        _PUSH.prefill_min_score,
        "--prefill-min-score",
        help="Pre-fill only predictions scoring at least this (0-1); less sure clips open empty.",
    ),
    json_out: bool = JSON,
) -> None:
    """Create tasks for fetched clips not pushed yet (safe to re-run after an interruption)."""
    e = env(ctx)
    opts = annotate.PushOptions(
        project=project,
        split=split,
        limit=limit,
        model=model,
        order=order,
        seed=seed,
        gold_rate=gold_rate,
        prefill_min_score=prefill_min_score,
    )
    e.out(json_out).show(annotate.push(e.store, e.settings, opts), _push_view)


def _push_view(report: annotate.PushReport) -> None:
    kv(
        f"pushed to {report.url} project {report.project} (id {report.ls_project_id})",
        {
            "new tasks": report.created,
            "with predictions": f"{report.with_predictions} ({report.model_version or '-'})",
            "prediction withheld (under --prefill-min-score)": report.withheld,
            "recovered from an interrupted push": report.reconciled,
            "already pushed": report.already_pushed,
            "left for a later push": report.remaining,
            "duplicate tasks on the server": len(report.duplicates_on_server),
            "gold": f"{report.gold_copies} (unannounced)",
        },
    )


@app.command("pull")
def pull(ctx: typer.Context, project: str = PROJECT, json_out: bool = JSON) -> None:
    """Store new, edited and deleted annotations; update curated labels."""
    e = env(ctx)
    e.out(json_out).show(annotate.pull(e.store, e.settings, project=project), _pull_view)


def _pull_view(report: annotate.PullReport) -> None:
    kv(
        f"pulled from {report.url} project {report.project}",
        {
            "tasks": report.tasks_seen,
            "annotations": report.annotations_seen,
            "new / updated / deleted": f"{report.new} / {report.updated} / {report.deleted}",
            "skipped by annotators": report.cancelled,
            "re-check project": report.recheck_ls_project_id or "-",
            "new answers to gold": report.gold_answers,
            "curated added / changed / removed": f"{report.curated.added} / "
            f"{report.curated.changed} / {report.curated.removed}",
        },
    )


@app.command("adjudicate")
def adjudicate(
    ctx: typer.Context,
    clip_id: str = typer.Argument(..., help="The clip whose disagreement is decided."),
    accept: int | None = typer.Option(None, "--accept", help="Label Studio annotation id."),
    third_pass: bool = typer.Option(False, "--third-pass", help="Ask a third annotator."),
    by: str | None = typer.Option(None, "--by", help="Who decides (default: login name)."),
    project: str = PROJECT,
    json_out: bool = JSON,
) -> None:
    """Resolve a re-check disagreement."""
    e = env(ctx)
    r = qc.adjudicate(
        e.store, e.settings, clip_id, accept=accept, third_pass=third_pass, by=by, project=project
    )
    e.out(json_out).show(r, _adjudicate_view)


def _adjudicate_view(r: qc.AdjudicationReport) -> None:
    what = "sent to a third pass"
    if r.decision == "accept":
        what = f"accepted annotation {r.accepted_annotation}"
    line(f"{r.clip_id}: {what} (task {r.ls_task_id}, decided by {r.decided_by})")
