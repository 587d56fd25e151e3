"""`avel annotate qc sample|report` and `avel annotate adjudicate`: the toolkit's own re-check.

Label Studio's free edition has no reviews or agreement, so the toolkit draws the re-check set
(``domain.qc_draw``), sends the drawn clips to a separate re-check project without predictions
or first passes, never served to their first annotator (``services.recheck``), computes
agreement (``domain.agreement``), and records adjudications; curated labels follow from
``domain.curation``.
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
from avel_annotate.domain.curation import AdjudicationView, AnnotationView, curate, recheck_pair
from avel_annotate.domain.gold import DEFAULT_GOLD_THRESHOLD, DEFAULT_MIN_ANSWERS
from avel_annotate.domain.labelconfig import SEGMENT_VALUES
from avel_annotate.domain.qc_draw import draw_recheck
from avel_annotate.errors import ConfigError, NotFoundError
from avel_annotate.services import recheck
from avel_annotate.services.annotate import DEFAULT_PROJECT
from avel_annotate.services.curation import CurationChanges, recompute_curated, views_by_clip
from avel_annotate.services.gold import GoldReport, gold_report
from avel_annotate.services.labelstudio import client_for
from avel_annotate.services.ls_projects import require_project
from avel_annotate.services.store import open_engine, store_session
from avel_annotate.store import annotations as q
from avel_annotate.store.engine import session_scope
from avel_annotate.store.tables import Adjudication

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
    recheck_project: str = ""  # the Label Studio project the drawn clips went to
    recheck_ls_project_id: int | None = None
    recheck_tasks_created: int = 0  # this run (also drawn clips an earlier run left unsent)


def _candidates(
    session: Session,
    tasks: dict[int, tuple[int, int]],
    considered: set[int],
    annotators: Sequence[str] = (),
    project: str = DEFAULT_PROJECT,
) -> tuple[list[tuple[int, str]], set[int]]:
    """``(task pk, first-pass category)`` of labelled tasks no draw considered yet (only those
    first-labelled by one of ``annotators`` when given), and the labelled task pks. The
    selection step of `qc sample`; dispatch works for any task set."""
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
    return candidates, set(first_category)


def _to_dispatch(session: Session, tasks: dict[int, tuple[int, int]]) -> set[int]:
    """Clips of the project's drawn tasks that still lack a re-check (one by another annotator
    in the first-pass task, from before re-check projects, counts)."""
    clips = {tasks[t][1] for t in q.drawn_task_pks(session) if t in tasks}
    views = views_by_clip(q.annotation_rows(session, clips))
    return {c for c in clips if recheck_pair(views.get(c, []))[1] is None}


def qc_sample(
    settings: Settings,
    *,
    project: str = DEFAULT_PROJECT,
    fraction: float = 0.6,
    seed: int = 0,
    annotators: Sequence[str] = (),
) -> SampleReport:
    """Draw ``fraction`` of the labelled, never-considered tasks and send their clips to the
    re-check project (no predictions, no first pass, never served to their first annotator).

    ``annotators``: only tasks whose first pass is by one of them (e.g. one flagged on gold,
    with ``fraction=1``: all their other labels go to the re-check)."""
    if not 0.0 < fraction <= 1.0:
        raise ConfigError(f"--fraction {fraction} is not in (0, 1]", "use e.g. 0.6")
    client = client_for(settings)
    engine = open_engine(settings)
    try:
        with session_scope(engine) as session:
            proj = require_project(session, client, project)
            project_pk = proj.id
            tasks = {
                pk: (ls_id, clip) for ls_id, (pk, clip) in q.tasks_of(session, proj.id).items()
            }
            considered = q.considered_task_pks(session)
            candidates, labelled = _candidates(session, tasks, considered, annotators, project)
            run = q.next_draw_run(session)
        drawn = set(draw_recheck(candidates, fraction, seed))
        by_category: dict[str, int] = defaultdict(int)
        for task_pk, category in candidates:
            if task_pk in drawn:
                by_category[category] += 1
        # the draw is recorded first: a dispatch that stops half way is completed by the next
        # run, which sends every drawn clip still without a re-check task (never one twice)
        with session_scope(engine) as session:
            q.insert_draws(
                session,
                [(t, tasks[t][1], t in drawn) for t, _ in candidates],
                draw_run=run,
                seed=seed,
                fraction=fraction,
            )
            changes = recompute_curated(session, {tasks[t][1] for t in drawn})
            pending = _to_dispatch(session, tasks)
        sent = recheck.dispatch(settings, client, engine, project, project_pk, pending)
        log.info("draw %d: %d of %d tasks drawn for re-check", run, len(drawn), len(candidates))
        return SampleReport(
            project=project,
            draw_run=run,
            seed=seed,
            fraction=fraction,
            candidates=len(candidates),
            drawn=len(drawn),
            drawn_by_category=dict(sorted(by_category.items())),
            already_considered=len(considered & labelled),
            curated=changes,
            recheck_project=recheck.recheck_title(project),
            recheck_ls_project_id=sent.ls_project_id,
            recheck_tasks_created=sent.created,
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


def qc_report(
    settings: Settings,
    *,
    gold_threshold: float = DEFAULT_GOLD_THRESHOLD,
    gold_min_answers: int = DEFAULT_MIN_ANSWERS,
) -> QcReport:
    with store_session(settings) as session:
        drawn_tasks = q.drawn_task_pks(session)
        drawn_clips = q.drawn_clip_pks(session)
        rechecks = recheck.recheck_tasks_of(session, drawn_clips)
        counted = drawn_tasks | {t for t, _ls in rechecks.values()}
        rows = q.annotation_rows(session, drawn_clips)
        by_clip: dict[int, list[q.AnnotationRow]] = defaultdict(list)
        for r in rows:
            if r.task_pk in counted:
                by_clip[r.clip_pk].append(r)
        adjudications = q.adjudications_by_clip(session)
        pairs: list[RecheckPair] = []
        paired: set[int] = set()
        flagged: list[str] = []
        for clip_pk in sorted(drawn_clips):
            anns = {r.id: r for r in by_clip.get(clip_pk, [])}
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
            status, thirds = _status(first, second, views, adjudications.get(a.clip_pk, []))
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
                    _next_step(
                        status,
                        a.clip_id,
                        a.ls_annotation_id,
                        b.ls_annotation_id,
                        tuple(anns[t].ls_annotation_id for t in thirds),
                    ),
                    b.ls_task_id,
                )
            )
            paired.add(clip_pk)
        unsent = len(drawn_clips - paired - set(rechecks))
        waiting = len(drawn_clips - paired)
        pending_next = ""
        if waiting:
            pending_next = (
                f"{waiting - unsent} drawn clip(s) wait for their re-check: annotators other "
                "than the first open the Label Stream of the re-check project "
                f"({recheck.recheck_title('avel')!r} for project 'avel'), then "
                "`avel annotate pull`"
            )
            if unsent:
                pending_next += (
                    f"; {unsent} have no re-check task yet: run `avel annotate qc sample` "
                    "(it sends every drawn clip still without one)"
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
            model_vs_human=model_vs_human,
            disagreements=[p for p in pairs if p.status != "agreed"],
            same_annotator=flagged,
            pending_next_step=pending_next,
            unsent=unsent,
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


def _third_pass_task(session: Session, clip_pk: int) -> tuple[int, int] | None:
    """``(ls task id, overlap)`` for a third pass in the clip's re-check task: one more than
    the annotators who labelled it (so exactly one new person completes it), else None."""
    found = recheck.recheck_tasks_of(session, [clip_pk]).get(clip_pk)
    if found is None:
        return None
    task_pk, ls_task_id = found
    done = {
        r.annotator
        for r in q.annotation_rows(session, [clip_pk])
        if r.task_pk == task_pk and not r.was_cancelled and not r.deleted
    }
    return ls_task_id, max(len(done), 1) + 1


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
    engine = open_engine(settings)
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
            third = _third_pass_task(session, clip_pk) if third_pass else None
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
        elif third is not None:
            # the re-check task: its stream serves neither the first annotator (placeholder)
            # nor anyone who labelled it already
            ls_task_id, overlap = third
            client.update_task(ls_task_id, overlap=overlap, is_labeled=False)
        else:  # drawn before re-check projects: the first-pass task, as then
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
