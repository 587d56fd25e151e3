"""`avel annotate push|pull|qc sample|qc report|adjudicate`."""

from __future__ import annotations

import sys

import typer

from avel_annotate.cli import gold as gold_cmd
from avel_annotate.cli.output import JSON, env
from avel_annotate.cli.render import counts, kv, line
from avel_annotate.services import annotate, qc

app = typer.Typer(help="Annotation in Label Studio: push tasks, pull labels, quality control.")
qc_app = typer.Typer(help="The 60 % re-check: draw it, report agreement.")
app.add_typer(qc_app, name="qc")
app.add_typer(gold_cmd.app, name="gold")

PROJECT = typer.Option(annotate.DEFAULT_PROJECT, "--project", help="Label Studio project title.")


def _figs(f: qc.ag.Figures) -> list[str]:
    pcts = [f.percent_agreement, f.kappa, f.category_agreement, f.exact_agreement]
    return ["-" if v is None else f"{v:.3f}" if i == 1 else f"{v:.1f}" for i, v in enumerate(pcts)]


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
    order: str = typer.Option(_PUSH.order, "--order", help="list | uncertainty | random"),
    seed: int = typer.Option(_PUSH.seed, "--seed", help="Seed of --order random and the gold mix."),
    gold_rate: float = typer.Option(
        _PUSH.gold_rate, "--gold-rate", help="Gold copies per new task."
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
    )
    e.out(json_out).show(annotate.push(e.store, e.settings, opts), _push_view)


def _push_view(report: annotate.PushReport) -> None:
    kv(
        f"pushed to {report.url} project {report.project} (id {report.ls_project_id})",
        {
            "new tasks": report.created,
            "with predictions": f"{report.with_predictions} ({report.model_version or '-'})",
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


@qc_app.command("sample")
def sample(
    ctx: typer.Context,
    project: str = PROJECT,
    fraction: float = typer.Option(
        qc.DEFAULT_FRACTION, "--fraction", help="Share of labelled tasks re-checked."
    ),
    seed: int = typer.Option(0, "--seed", help="Same seed and tasks, same draw."),
    annotator: list[str] = typer.Option(
        [], "--annotator", help="Only tasks first labelled by this annotator (repeat)."
    ),
    json_out: bool = JSON,
) -> None:
    """Draw the re-check set and send it to the re-check project (no predictions, no first
    pass, never served to its first annotator)."""
    e = env(ctx)
    report = qc.qc_sample(
        e.store, e.settings, project=project, fraction=fraction, seed=seed, annotators=annotator
    )
    e.out(json_out).show(report, _sample_view)


def _sample_view(report: qc.SampleReport) -> None:
    kv(
        f"draw {report.draw_run} (fraction {report.fraction}, seed {report.seed})",
        {
            "new labelled tasks": report.candidates,
            "drawn for re-check": report.drawn,
            "re-check project": f"{report.recheck_project} "
            f"(Label Studio project {report.recheck_ls_project_id})",
            "re-check tasks created": report.recheck_tasks_created,
        },
    )
    counts("drawn by category", report.drawn_by_category, "category")


def _say(text: str = "") -> None:
    """Literal text, never wrapped, cut or read as markup: clip ids and second names are what
    `adjudicate` needs, whole, at any terminal width."""
    sys.stdout.write(text + "\n")


def _table(columns: list[str], data: list[tuple[object, ...]]) -> None:
    cells = [columns, *[[str(v) for v in row] for row in data]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    for row in cells:
        _say("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


@qc_app.command("report")
def report(
    ctx: typer.Context,
    gold_threshold: float = typer.Option(
        qc.DEFAULT_GOLD_THRESHOLD, "--gold-threshold", help="Flag under this share right on gold."
    ),
    gold_min_answers: int = typer.Option(
        qc.DEFAULT_MIN_ANSWERS, "--gold-min-answers", min=1, help="Fewer: too few to judge."
    ),
    json_out: bool = JSON,
) -> None:
    """Agreement: per second (pooled kappa), category, per annotator/category, model vs human;
    accuracy on gold; acceptance of pre-filled predictions."""
    e = env(ctx)
    r = qc.qc_report(e.store, gold_threshold=gold_threshold, gold_min_answers=gold_min_answers)
    e.out(json_out).show(r, _report_view)


def _report_view(r: qc.QcReport) -> None:
    _say(f"drawn {r.drawn}, re-checked {r.rechecked}, waiting {r.pending}")
    if r.pending_next_step:
        _say(f"  next: {r.pending_next_step}")
    groups = {"all": r.overall, **{f"annotator {k}": v for k, v in r.per_annotator.items()}}
    groups |= {f"category {k}": v for k, v in r.per_category.items()}
    groups |= {f"model {k} vs curated": v for k, v in r.model_vs_human.items()}
    _say()
    _say("agreement")
    cols = ["group", "pairs", "seconds %", "kappa", "category %", "exact %"]
    _table(cols, [(k, f.n_pairs, *_figs(f)) for k, f in groups.items()])
    _say()
    _say(f"{len(r.disagreements)} disagreement(s)")
    for d in r.disagreements:
        _say(f"- clip {d.clip_id} (task {d.ls_task_id}): {d.status}")
        _say(f"  first pass: annotation {d.first_annotation} by {d.first_annotator}")
        _say(f"  re-check:   annotation {d.second_annotation} by {d.second_annotator}")
        _say(f"  seconds differing: {' '.join(d.differing_second_names) or 'none'}")
        _say(f"  category: {d.first_category or '-'} / {d.second_category or '-'}")
        _say(f"  next: {d.next_step}")
    for flag in r.same_annotator:
        _say(f"flagged (not counted): {flag}")
    gold_cmd.print_gold(r.gold)


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
