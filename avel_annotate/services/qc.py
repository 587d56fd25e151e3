"""`avel annotate qc sample|report` and `avel annotate adjudicate`: the toolkit's own re-check.

Label Studio's free edition has no reviews or agreement, so the toolkit draws the re-check set
(``domain.qc_draw``), sends drawn tasks back into the queue for a second annotator
(``overlap=2, is_labeled=False``), computes agreement (``domain.agreement``), and records
adjudications; curated labels follow from ``domain.curation``.
"""

from __future__ import annotations

import getpass
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from avel_annotate.config import Settings
from avel_annotate.domain import agreement as ag
from avel_annotate.domain.curation import AnnotationView, recheck_pair
from avel_annotate.domain.gold import DEFAULT_GOLD_THRESHOLD, DEFAULT_MIN_ANSWERS
from avel_annotate.domain.labelconfig import SEGMENT_VALUES
from avel_annotate.domain.qc_draw import draw_recheck
from avel_annotate.errors import ConfigError, NotFoundError
from avel_annotate.services.annotate import DEFAULT_PROJECT
from avel_annotate.services.curation import CurationChanges, recompute_curated, views_by_clip
from avel_annotate.services.gold import GoldReport, gold_report
from avel_annotate.services.labelstudio import client_for
from avel_annotate.services.ls_projects import require_project
from avel_annotate.services.store import open_store, store_session
from avel_annotate.store import annotations as q
from avel_annotate.store.engine import session_scope

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SampleReport:
    project: str
    draw_run: int
    seed: int
    fraction: float
    candidates: int
    drawn: int
    drawn_by_category: dict[str, int]
    already_considered: int
    curated: CurationChanges


def qc_sample(
    settings: Settings,
    *,
    project: str = DEFAULT_PROJECT,
    fraction: float = 0.6,
    seed: int = 0,
    annotators: Sequence[str] = (),
) -> SampleReport:
    """Draw ``fraction`` of the labelled, never-considered tasks and re-queue them.

    ``annotators``: only tasks whose first pass is by one of them (e.g. one flagged on gold,
    with ``fraction=1``: all their other labels go to the re-check)."""
    if not 0.0 < fraction <= 1.0:
        raise ConfigError(f"--fraction {fraction} is not in (0, 1]", "use e.g. 0.6")
    client = client_for(settings)
    engine = open_store(settings)
    try:
        with session_scope(engine) as session:
            proj = require_project(session, client, project)
            tasks = {
                pk: (ls_id, clip) for ls_id, (pk, clip) in q.tasks_of(session, proj.id).items()
            }
            considered = q.considered_task_pks(session)
            first_category: dict[int, str] = {}
            first_by: dict[int, str] = {}
            for row in q.annotation_rows(session, {c for _, c in tasks.values()}):
                usable = not row.was_cancelled and not row.deleted
                if usable and row.task_pk in tasks and row.task_pk not in first_category:
                    first_category[row.task_pk] = row.category or "-"
                    first_by[row.task_pk] = row.annotator
            candidates = [(t, c) for t, c in first_category.items() if t not in considered]
            if annotators:
                absent = sorted(set(annotators) - set(first_by.values()))
                if absent:
                    raise NotFoundError(
                        f"annotator {absent[0]!r} has no first pass in project {project!r}",
                        "use a name as `avel annotate qc report` prints it",
                    )
                candidates = [(t, c) for t, c in candidates if first_by[t] in set(annotators)]
            run = q.next_draw_run(session)
        drawn = set(draw_recheck(candidates, fraction, seed))
        for task_pk in sorted(drawn):
            client.update_task(tasks[task_pk][0], overlap=2, is_labeled=False)
        by_category: dict[str, int] = defaultdict(int)
        for task_pk, category in candidates:
            if task_pk in drawn:
                by_category[category] += 1
        with session_scope(engine) as session:
            q.insert_draws(
                session,
                [(t, tasks[t][1], t in drawn) for t, _ in candidates],
                draw_run=run,
                seed=seed,
                fraction=fraction,
            )
            changes = recompute_curated(session, {tasks[t][1] for t in drawn})
        log.info("draw %d: %d of %d tasks re-queued", run, len(drawn), len(candidates))
        return SampleReport(
            project=project,
            draw_run=run,
            seed=seed,
            fraction=fraction,
            candidates=len(candidates),
            drawn=len(drawn),
            drawn_by_category=dict(sorted(by_category.items())),
            already_considered=len(considered & set(first_category)),
            curated=changes,
        )
    finally:
        engine.dispose()


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


def _next_step(status: str, clip_id: str, first: int, second: int) -> str:
    if status == "open":
        return (
            f"avel annotate adjudicate {clip_id} --accept {first} | --accept {second} "
            "| --third-pass"
        )
    if status == "third_pass":
        return "a third annotator labels the task, then `avel annotate pull`"
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
    gold: GoldReport | None = None  # accuracy on gold clips, acceptance of predictions


def qc_report(
    settings: Settings,
    *,
    gold_threshold: float = DEFAULT_GOLD_THRESHOLD,
    gold_min_answers: int = DEFAULT_MIN_ANSWERS,
) -> QcReport:
    with store_session(settings) as session:
        drawn_tasks = q.drawn_task_pks(session)
        rows = q.annotation_rows(session, q.drawn_clip_pks(session))
        by_task: dict[int, list[q.AnnotationRow]] = defaultdict(list)
        for r in rows:
            if r.task_pk in drawn_tasks:
                by_task[r.task_pk].append(r)
        adjudications = q.adjudications_by_clip(session)
        pairs: list[RecheckPair] = []
        flagged: list[str] = []
        for task_pk in sorted(drawn_tasks):
            anns = {r.id: r for r in by_task.get(task_pk, [])}
            views = [
                AnnotationView(
                    r.id,
                    r.round,
                    r.annotator,
                    r.segments,
                    r.category_id,
                    r.was_cancelled,
                    r.deleted,
                )
                for r in anns.values()
            ]
            first, second = recheck_pair(views)
            if first is not None:
                same = [
                    v
                    for v in views
                    if v.usable and v.id != first.id and v.annotator == first.annotator
                ]
                flagged += [
                    f"{anns[v.id].clip_id}: annotation {anns[v.id].ls_annotation_id} "
                    f"by {v.annotator} re-checked their own first pass; fix: delete annotation "
                    f"{anns[v.id].ls_annotation_id} in Label Studio (the task then returns to the "
                    "queue for another annotator), then `avel annotate pull`"
                    for v in same
                ]
            if first is None or second is None:
                continue
            a, b = anns[first.id], anns[second.id]
            decisions = adjudications.get(a.clip_pk, [])
            status = "agreed" if first.same_labels(second) else "open"
            if decisions and status == "open":
                status = "accepted" if decisions[-1].decision == "accept" else "third_pass"
            pairs.append(
                RecheckPair(
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
                    ag.differing_seconds(a.segments, b.segments),
                    status,
                    [SEGMENT_VALUES[t] for t in ag.differing_seconds(a.segments, b.segments)],
                    _next_step(status, a.clip_id, a.ls_annotation_id, b.ls_annotation_id),
                )
            )
        label_pairs = [
            ag.LabelPair(p.first_segments, p.second_segments, p.first_category, p.second_category)
            for p in pairs
        ]
        curated = q.curated_rows(session)
        preds = q.predictions_by_version(session, [c.clip_pk for c in curated])
        model_vs_human = {
            version: ag.figures(
                [
                    ag.LabelPair(
                        by_clip[c.clip_pk][0], c.segments, by_clip[c.clip_pk][1], c.category
                    )
                    for c in curated
                    if c.clip_pk in by_clip
                ]
            )
            for version, by_clip in sorted(preds.items())
        }
        return QcReport(
            drawn=len(drawn_tasks),
            rechecked=len(pairs),
            pending=len(drawn_tasks) - len(pairs),
            overall=ag.figures(label_pairs),
            per_annotator=ag.grouped_figures(
                label_pairs, lambda i, _p: (pairs[i].first_annotator, pairs[i].second_annotator)
            ),
            per_category=ag.grouped_figures(
                label_pairs, lambda i, _p: [pairs[i].first_category or "-"]
            ),
            model_vs_human=model_vs_human,
            disagreements=[p for p in pairs if p.status != "agreed"],
            same_annotator=flagged,
            gold=gold_report(session, gold_threshold, gold_min_answers),
        )


@dataclass(frozen=True)
class AdjudicationReport:
    clip_id: str
    decision: str
    decided_by: str
    accepted_annotation: int | None
    ls_task_id: int | None
    curated: CurationChanges


def _require_open_disagreement(session: Session, clip_pk: int, clip_id: str) -> None:
    """A third pass is only for a drawn clip whose first pass and re-check differ."""
    views = views_by_clip(q.annotation_rows(session, [clip_pk])).get(clip_pk, [])
    first, second = recheck_pair(views)
    if clip_pk not in q.drawn_clip_pks(session) or first is None or second is None:
        state = "has no re-check yet"
    elif first.same_labels(second):
        state = "has a re-check that agrees with its first pass"
    else:
        return
    raise ConfigError(
        f"clip {clip_id} {state}: a third pass is only for an open disagreement",
        "see `avel annotate qc report` for the open ones",
    )


def adjudicate(
    settings: Settings,
    clip_id: str,
    *,
    accept: int | None = None,
    third_pass: bool = False,
    by: str | None = None,
    note: str | None = None,
    project: str = DEFAULT_PROJECT,
) -> AdjudicationReport:
    """Accept one annotation (ground truth in Label Studio) or send the clip to a third pass."""
    if (accept is None) == (not third_pass):
        raise ConfigError("give exactly one of --accept ANNOTATION_ID and --third-pass")
    who = by or getpass.getuser()
    client = client_for(settings)
    engine = open_store(settings)
    try:
        with session_scope(engine) as session:
            clip = q.clip_by_id(session, clip_id)
            if clip is None:
                raise NotFoundError(f"clip {clip_id} is not in the store", "check the clip id")
            clip_pk = clip.id
            if third_pass:
                _require_open_disagreement(session, clip_pk, clip_id)
            proj = require_project(session, client, project)
            tasks = [t for t in q.tasks_of_clip(session, clip_pk) if t[2] == proj.id]
            if not tasks:
                raise NotFoundError(
                    f"clip {clip_id} has no task in project {project!r} on {client.url}",
                    "push first",
                )
            ann_pk = None
            if accept is not None:
                ann = q.annotation_of_clip(session, clip_pk, accept)
                if ann is None:
                    raise NotFoundError(
                        f"annotation {accept} is not an annotation of clip {clip_id}",
                        "use an id from `avel annotate qc report`",
                    )
                if ann.deleted_at is not None or ann.was_cancelled:
                    raise ConfigError(
                        f"annotation {accept} of clip {clip_id} is deleted or skipped"
                    )
                ann_pk = ann.id
        ls_task_id = tasks[-1][1]
        if accept is not None:
            client.update_annotation(accept, ground_truth=True)
        else:
            client.update_task(ls_task_id, overlap=3, is_labeled=False)
        with session_scope(engine) as session:
            if ann_pk is not None:
                q.set_ground_truth(session, ann_pk)
            decision = "accept" if accept is not None else "third_pass"
            q.add_adjudication(session, clip_pk, decision, who, ann_pk, note)
            changes = recompute_curated(session, [clip_pk])
        return AdjudicationReport(clip_id, decision, who, accept, ls_task_id, changes)
    finally:
        engine.dispose()
