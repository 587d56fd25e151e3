"""`avel annotate qc sample|report`: the re-check draw, and the agreement report (printed
literally: whole clip ids, second names and next steps at any terminal width)."""

from __future__ import annotations

import typer

from avel_annotate.cli.gold import print_gold
from avel_annotate.cli.output import JSON, env
from avel_annotate.cli.render import columns, counts, kv, say
from avel_annotate.services import qc
from avel_annotate.services.annotate import DEFAULT_PROJECT

app = typer.Typer(help="The 60 % re-check: draw it, report agreement.")

PROJECT = typer.Option(DEFAULT_PROJECT, "--project", help="Label Studio project title.")


def _figs(f: qc.ag.Figures) -> list[str]:
    pcts = [f.percent_agreement, f.kappa, f.category_agreement, f.exact_agreement]
    return ["-" if v is None else f"{v:.3f}" if i == 1 else f"{v:.1f}" for i, v in enumerate(pcts)]


@app.command("sample")
def sample(
    ctx: typer.Context,
    project: str = PROJECT,
    fraction: float = typer.Option(
        qc.DEFAULT_FRACTION, "--fraction", help="Share of labelled tasks re-checked."
    ),
    seed: int = typer.Option(qc.DEFAULT_SEED, "--seed", help="Same seed and tasks, same draw."),
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


@app.command("report")
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
    say(f"drawn {r.drawn}, re-checked {r.rechecked}, waiting {r.pending}")
    if r.pending_next_step:
        say(f"  next: {r.pending_next_step}")
    groups = {"all": r.overall, **{f"annotator {k}": v for k, v in r.per_annotator.items()}}
    groups |= {f"category {k}": v for k, v in r.per_category.items()}
    groups |= {f"model {k} vs curated": v for k, v in r.model_vs_human.items()}
    say()
    say("agreement")
    cols = ["group", "pairs", "seconds %", "kappa", "category %", "exact %"]
    columns([cols, *[(k, f.n_pairs, *_figs(f)) for k, f in groups.items()]])
    say()
    say(f"{len(r.disagreements)} disagreement(s)")
    for d in r.disagreements:
        say(f"- clip {d.clip_id} (task {d.ls_task_id}): {d.status}")
        say(f"  first pass: annotation {d.first_annotation} by {d.first_annotator}")
        say(f"  re-check:   annotation {d.second_annotation} by {d.second_annotator}")
        say(f"  seconds differing: {' '.join(d.differing_second_names) or 'none'}")
        say(f"  category: {d.first_category or '-'} / {d.second_category or '-'}")
        say(f"  next: {d.next_step}")
    for flag in r.same_annotator:
        say(f"flagged (not counted): {flag}")
    print_gold(r.gold)
