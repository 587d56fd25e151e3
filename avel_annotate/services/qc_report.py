"""`avel annotate qc report`: agreement of the re-checks, their states and next steps, model vs
human, accuracy on gold. Store only: it never calls Label Studio.

Each state comes from ``domain.curation``, so the report never disagrees with the curated
labels; agreement figures come from ``domain.agreement``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from avel_annotate.domain import agreement as ag
from avel_annotate.domain.curation import AdjudicationView, AnnotationView, curate, recheck_pair
from avel_annotate.domain.gold import DEFAULT_GOLD_THRESHOLD, DEFAULT_MIN_ANSWERS
from avel_annotate.domain.labelconfig import SEGMENT_VALUES
from avel_annotate.domain.ls_results import recheck_title
from avel_annotate.services.gold_report import GoldReport, gold_report
from avel_annotate.store import annotations as q
from avel_annotate.store import ls_projects as lq
from avel_annotate.store.database import Session, Store
from avel_annotate.store.tables import Adjudication

__all__ = [
    "DEFAULT_GOLD_THRESHOLD",
    "DEFAULT_MIN_ANSWERS",
    "QcReport",
    "RecheckPair",
    "qc_report",
]


@dataclass(frozen=True)
class RecheckPair:
    clip_id: str
    ls_task_id: int
    first_annotation: int  # Label Studio annotation ids
    second_annotation: int
    first_annotator: str
    second_annotator: str
    first_segments: str
    second_segments: str
    first_category: str | None
    second_category: str | None
    differing_seconds: list[int]
    status: str  # agreed | open | third_pass | accepted
    differing_second_names: list[str] = field(default_factory=list)  # "5-6s", as in the editor
    next_step: str = ""
    recheck_task_id: int | None = None  # the task the re-check was made on


def _next_step(
    status: str, clip_id: str, first: int, second: int, others: tuple[int, ...] = ()
) -> str:
    if status == "open":
        ids = " | ".join(f"--accept {i}" for i in (first, second, *others))
        return f"avel annotate adjudicate {clip_id} {ids} | --third-pass"
    if status == "third_pass":
        return (
            "a third annotator (neither of the first two: the re-check project's stream does "
            "not serve them) labels the task, then `avel annotate pull`"
        )
    return "none: curated"


@dataclass(frozen=True)
class QcReport:
    drawn: int
    rechecked: int
    pending: int
    overall: ag.Figures
    per_annotator: dict[str, ag.Figures]
    per_category: dict[str, ag.Figures]
    model_vs_human: dict[str, ag.Figures]
    disagreements: list[RecheckPair]
    same_annotator: list[str] = field(default_factory=list)  # flagged, not counted
    pending_next_step: str = ""  # what the drawn clips still waiting need
    unsent: int = 0  # drawn clips without a re-check task (a `qc sample` stopped half way)
    gold: GoldReport | None = None  # accuracy on gold clips, acceptance of predictions


def _status(
    first: AnnotationView,
    second: AnnotationView,
    views: list[AnnotationView],
    decisions: list[Adjudication],
) -> tuple[str, tuple[int, ...]]:
    """The pair's state and, for a reopened third pass, the store ids of the third opinions.

    Derived from ``domain.curation`` so that the report never disagrees with the curated
    labels: ``agreed``, ``accepted``, ``resolved`` (an agreeing third pass) are curated;
    ``third_pass`` waits for its third annotator; ``open`` needs a decision."""
    adj = [AdjudicationView(d.id, d.decision, d.accepted_annotation_id) for d in decisions]
    curated = curate(views, True, adj)
    if curated is not None:
        if curated.provenance == "agreement":
            return "agreed", ()
        return ("accepted" if len(curated.annotation_ids) == 1 else "resolved"), ()
    if decisions and decisions[-1].decision == "third_pass":
        after = (second.round, second.id)
        thirds = tuple(
            v.id
            for v in views
            if v.usable
            and (v.round, v.id) > after
            and v.annotator not in (first.annotator, second.annotator)
        )
        return ("open", thirds) if thirds else ("third_pass", ())
    return "open", ()


@dataclass
class _Pairs:
    pairs: list[RecheckPair] = field(default_factory=list)
    paired: set[int] = field(default_factory=set)
    flagged: list[str] = field(default_factory=list)  # self re-checks, not counted


def _views(anns: dict[int, q.AnnotationRow]) -> list[AnnotationView]:
    return [
        AnnotationView(
            r.id, r.round, r.annotator, r.segments, r.category_id, r.was_cancelled, r.deleted
        )
        for r in anns.values()
    ]


def _self_rechecks(
    anns: dict[int, q.AnnotationRow], views: list[AnnotationView], first: AnnotationView
) -> list[str]:
    """A re-check by the first annotator themself: flagged with its fix, never counted."""
    same = [v for v in views if v.usable and v.id != first.id and v.annotator == first.annotator]
    return [
        f"{anns[v.id].clip_id}: annotation {anns[v.id].ls_annotation_id} "
        f"by {v.annotator} re-checked their own first pass; fix: delete annotation "
        f"{anns[v.id].ls_annotation_id} in Label Studio (the task then returns to the "
        "queue for another annotator), then `avel annotate pull`"
        for v in same
    ]


def _pair(
    anns: dict[int, q.AnnotationRow],
    first: AnnotationView,
    second: AnnotationView,
    views: list[AnnotationView],
    decisions: list[Adjudication],
) -> RecheckPair:
    a, b = anns[first.id], anns[second.id]
    status, thirds = _status(first, second, views, decisions)
    differing = ag.differing_seconds(a.segments, b.segments)
    return RecheckPair(
        a.clip_id,
        a.ls_task_id,
        a.ls_annotation_id,
        b.ls_annotation_id,
        a.annotator,
        b.annotator,
        a.segments,
        b.segments,
        a.category,
        b.category,
        differing,
        status,
        [SEGMENT_VALUES[t] for t in differing],
        _next_step(
            status,
            a.clip_id,
            a.ls_annotation_id,
            b.ls_annotation_id,
            tuple(anns[t].ls_annotation_id for t in thirds),
        ),
        b.ls_task_id,
    )


def _pairs(session: Session, drawn_clips: set[int], counted: set[int]) -> _Pairs:
    """The first pass and re-check of every drawn clip that has both, in clip order."""
    by_clip: dict[int, list[q.AnnotationRow]] = defaultdict(list)
    for r in q.annotation_rows(session, drawn_clips):
        if r.task_pk in counted:
            by_clip[r.clip_pk].append(r)
    adjudications = q.adjudications_by_clip(session)
    out = _Pairs()
    for clip_pk in sorted(drawn_clips):
        anns = {r.id: r for r in by_clip.get(clip_pk, [])}
        views = _views(anns)
        first, second = recheck_pair(views)
        if first is not None:
            out.flagged += _self_rechecks(anns, views, first)
        if first is None or second is None:
            continue
        decisions = adjudications.get(anns[first.id].clip_pk, [])
        out.pairs.append(_pair(anns, first, second, views, decisions))
        out.paired.add(clip_pk)
    return out


def _pending_next(waiting: int, unsent: int) -> str:
    if not waiting:
        return ""
    text = (
        f"{waiting - unsent} drawn clip(s) wait for their re-check: annotators other "
        "than the first open the Label Stream of the re-check project "
        f"({recheck_title('avel')!r} for project 'avel'), then "
        "`avel annotate pull`"
    )
    if unsent:
        text += (
            f"; {unsent} have no re-check task yet: run `avel annotate qc sample` "
            "(it sends every drawn clip still without one)"
        )
    return text


def _model_vs_human(session: Session) -> dict[str, ag.Figures]:
    """Each model version's predictions against the curated labels."""
    curated = q.curated_rows(session)
    preds = q.predictions_by_version(session, [c.clip_pk for c in curated])
    return {
        version: ag.figures(
            [
                ag.LabelPair(by_clip[c.clip_pk][0], c.segments, by_clip[c.clip_pk][1], c.category)
                for c in curated
                if c.clip_pk in by_clip
            ]
        )
        for version, by_clip in sorted(preds.items())
    }


def qc_report(
    store: Store,
    *,
    gold_threshold: float = DEFAULT_GOLD_THRESHOLD,
    gold_min_answers: int = DEFAULT_MIN_ANSWERS,
) -> QcReport:
    with store.session() as session:
        drawn_clips = q.drawn_clip_pks(session)
        rechecks = lq.recheck_tasks_of(session, drawn_clips)
        counted = q.drawn_task_pks(session) | {t for t, _ls in rechecks.values()}
        found = _pairs(session, drawn_clips, counted)
        pairs = found.pairs
        unsent = len(drawn_clips - found.paired - set(rechecks))
        label_pairs = [
            ag.LabelPair(p.first_segments, p.second_segments, p.first_category, p.second_category)
            for p in pairs
        ]
        return QcReport(
            drawn=len(drawn_clips),
            rechecked=len(pairs),
            pending=len(drawn_clips) - len(pairs),
            overall=ag.figures(label_pairs),
            per_annotator=ag.grouped_figures(
                label_pairs, lambda i, _p: (pairs[i].first_annotator, pairs[i].second_annotator)
            ),
            per_category=ag.grouped_figures(
                label_pairs, lambda i, _p: [pairs[i].first_category or "-"]
            ),
            model_vs_human=_model_vs_human(session),
            disagreements=[p for p in pairs if p.status != "agreed"],
            same_annotator=found.flagged,
            pending_next_step=_pending_next(len(drawn_clips - found.paired), unsent),
            unsent=unsent,
            gold=gold_report(session, gold_threshold, gold_min_answers),
        )
