"""The gold part of `avel annotate qc report` and report.html: accuracy of each annotator on
gold clips (``domain.gold.score_gold``) and how often pre-filled predictions are kept unchanged
(``domain.gold.acceptance_bias``). Store only: never calls Label Studio."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

from avel_annotate.domain import gold as dg
from avel_annotate.domain import report_html as html
from avel_annotate.errors import ConfigError
from avel_annotate.store import gold as q
from avel_annotate.store.database import Session

RECHECKED = ("agreement", "adjudication")  # provenances of a re-checked curated label


@dataclass(frozen=True)
class GoldReport:
    threshold: float
    min_answers: int
    gold_clips: int
    answers: int
    per_annotator: list[dg.AnnotatorGold]
    flagged: list[str]
    acceptance: list[dg.Acceptance] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)


def gold_report(
    session: Session,
    threshold: float = dg.DEFAULT_GOLD_THRESHOLD,
    min_answers: int = dg.DEFAULT_MIN_ANSWERS,
) -> GoldReport:
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"--gold-threshold {threshold} is not in [0, 1]", "use e.g. 0.8")
    answers = q.usable_answers(session)
    scores = dg.score_gold(
        [
            dg.GoldComparison(a.annotator, a.segments, a.category, a.gold_segments, a.gold_category)
            for a in answers
        ],
        threshold,
        min_answers,
    )
    flagged = [s.annotator for s in scores if s.status == "flagged"]
    return GoldReport(
        threshold=threshold,
        min_answers=min_answers,
        gold_clips=len(q.gold_labels(session)),
        answers=len(answers),
        per_annotator=scores,
        flagged=flagged,
        acceptance=dg.acceptance_bias(_prefilled(session, answers)),
        next_steps=[
            f"re-check the other labels of {who}: avel annotate qc sample --annotator {who} "
            "--fraction 1"
            for who in flagged
        ],
    )


def _prefilled(session: Session, answers: Sequence[q.AnswerRow]) -> list[dg.Prefilled]:
    firsts = q.prefilled_first_passes(session)
    preds = q.predictions(
        session,
        [(a.clip_pk, a.model_version_id) for a in answers if a.model_version_id is not None]
        + [(f.clip_pk, f.model_version_id) for f in firsts],
    )
    out = []
    for a in answers:
        pred = preds.get((a.clip_pk, a.model_version_id or -1))
        if pred is not None:
            out.append(
                dg.Prefilled(
                    a.annotator,
                    a.segments,
                    a.category,
                    *pred,
                    "gold",
                    a.gold_segments,
                    a.gold_category,
                )
            )
    for f in firsts:
        pred = preds.get((f.clip_pk, f.model_version_id))
        if pred is None:
            continue
        kind = None
        if f.curated_provenance == "gold":
            kind = "gold"
        elif f.drawn and f.curated_provenance in RECHECKED:
            kind = "recheck"
        out.append(
            dg.Prefilled(
                f.annotator,
                f.segments,
                f.category,
                *pred,
                kind,
                f.curated_segments,
                f.curated_category,
            )
        )
    return out


def html_sections(report: GoldReport) -> list[str]:
    """The gold and acceptance sections of report.html."""
    pct = f"{100 * report.threshold:g} %"
    rows = [
        (
            s.annotator,
            s.answers,
            f"{s.seconds_pct:.1f} ({s.seconds_right}/{s.seconds_total})",
            f"{s.category_pct:.1f} ({s.categories_right}/{s.answers})",
            f"{s.exact_pct:.1f} ({s.exact}/{s.answers})",
            "FLAGGED: under " + pct if s.status == "flagged" else s.status,
        )
        for s in report.per_annotator
    ]
    summary = (
        f"{report.gold_clips} gold clip(s), {report.answers} answer(s) to gold task copies. "
        f"Flagged: seconds or category right under {pct}, with at least {report.min_answers} "
        "answers. " + (f"Flagged: {', '.join(report.flagged)}." if report.flagged else "")
    )
    acc = [
        (
            a.annotator,
            a.prefilled,
            f"{a.kept_pct:.1f} ({a.kept}/{a.prefilled})",
            _truth_cell(a.on_gold),
            _truth_cell(a.on_rechecked),
        )
        for a in report.acceptance
    ]
    return [
        html.table(
            "Accuracy on gold clips, per annotator (% right, with counts)",
            ["annotator", "answers", "seconds %", "category %", "exact %", "status"],
            rows,
        )
        + f"<p class='note'>{escape(summary)}</p>"
        + "".join(f"<p class='note'>Next: {escape(s)}</p>" for s in report.next_steps),
        html.table(
            "Acceptance of pre-filled predictions, per annotator",
            [
                "annotator",
                "pre-filled tasks",
                "kept unchanged %",
                "on gold: prediction right % / kept % / kept when wrong",
                "on re-checked: prediction right % / kept % / kept when wrong",
            ],
            acc,
        ),
    ]


def _truth_cell(t: dg.TruthFigures) -> str:
    if not t.tasks:
        return "no tasks"
    return (
        f"{t.prediction_right_pct:.1f} / {t.kept_pct:.1f} / {t.kept_when_wrong} "
        f"(of {t.tasks} tasks)"
    )
