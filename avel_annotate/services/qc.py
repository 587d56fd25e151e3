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
from dataclasses import dataclass

from avel_annotate.config import Settings
from avel_annotate.domain import agreement as ag
from avel_annotate.domain.curation import recheck_pair
from avel_annotate.domain.qc_draw import draw_recheck
from avel_annotate.errors import ConfigError, NotFoundError
from avel_annotate.services import recheck
from avel_annotate.services.curation import CurationChanges, recompute_curated, views_by_clip
from avel_annotate.services.labelstudio import client_for
from avel_annotate.services.ls_projects import DEFAULT_PROJECT, require_project
from avel_annotate.services.qc_report import (
    DEFAULT_GOLD_THRESHOLD,
    DEFAULT_MIN_ANSWERS,
    QcReport,
    RecheckPair,
    qc_report,
)
from avel_annotate.store import annotations as q
from avel_annotate.store import ls_projects as lq
from avel_annotate.store.database import Session, Store

log = logging.getLogger(__name__)

DEFAULT_FRACTION = 0.6  # the share of labelled tasks `qc sample` draws for a re-check
DEFAULT_SEED = 0  # the draw seed: same seed and tasks, same draw

__all__ = [
    "DEFAULT_FRACTION",
    "DEFAULT_GOLD_THRESHOLD",
    "DEFAULT_MIN_ANSWERS",
    "AdjudicationReport",
    "QcReport",
    "RecheckPair",
    "SampleReport",
    "adjudicate",
    "ag",
    "qc_report",
    "qc_sample",
]


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


@dataclass(frozen=True)
class _Draw:
    tasks: dict[int, tuple[int, int]]  # task pk -> (ls task id, clip pk)
    considered: set[int]
    candidates: list[tuple[int, str]]
    labelled: set[int]
    run: int


def _read_draw(store: Store, project_pk: int, annotators: Sequence[str], project: str) -> _Draw:
    with store.session() as session:
        tasks = {pk: (ls_id, clip) for ls_id, (pk, clip) in q.tasks_of(session, project_pk).items()}
        considered = q.considered_task_pks(session)
        candidates, labelled = _candidates(session, tasks, considered, annotators, project)
        return _Draw(tasks, considered, candidates, labelled, q.next_draw_run(session))


def qc_sample(
    store: Store,
    settings: Settings,
    *,
    project: str = DEFAULT_PROJECT,
    fraction: float = DEFAULT_FRACTION,
    seed: int = DEFAULT_SEED,
    annotators: Sequence[str] = (),
) -> SampleReport:
    """Draw ``fraction`` of the labelled, never-considered tasks and send their clips to the
    re-check project (no predictions, no first pass, never served to their first annotator).

    ``annotators``: only tasks whose first pass is by one of them (e.g. one flagged on gold,
    with ``fraction=1``: all their other labels go to the re-check)."""
    if not 0.0 < fraction <= 1.0:
        raise ConfigError(f"--fraction {fraction} is not in (0, 1]", "use e.g. 0.6")
    client = client_for(settings)
    proj = require_project(store, client, project)
    d = _read_draw(store, proj.pk, annotators, project)
    drawn = set(draw_recheck(d.candidates, fraction, seed))
    by_category: dict[str, int] = defaultdict(int)
    for task_pk, category in d.candidates:
        if task_pk in drawn:
            by_category[category] += 1
    # the draw is recorded first: a dispatch that stops half way is completed by the next
    # run, which sends every drawn clip still without a re-check task (never one twice)
    with store.session() as session:
        q.insert_draws(
            session,
            [(t, d.tasks[t][1], t in drawn) for t, _ in d.candidates],
            draw_run=d.run,
            seed=seed,
            fraction=fraction,
        )
        changes = recompute_curated(session, {d.tasks[t][1] for t in drawn})
        pending = _to_dispatch(session, d.tasks)
    sent = recheck.dispatch(store, settings, client, project, proj.pk, pending)
    log.info("draw %d: %d of %d tasks drawn for re-check", d.run, len(drawn), len(d.candidates))
    return SampleReport(
        project=project,
        draw_run=d.run,
        seed=seed,
        fraction=fraction,
        candidates=len(d.candidates),
        drawn=len(drawn),
        drawn_by_category=dict(sorted(by_category.items())),
        already_considered=len(d.considered & d.labelled),
        curated=changes,
        recheck_project=recheck.recheck_title(project),
        recheck_ls_project_id=sent.ls_project_id,
        recheck_tasks_created=sent.created,
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
    found = lq.recheck_tasks_of(session, [clip_pk]).get(clip_pk)
    if found is None:
        return None
    task_pk, ls_task_id = found
    done = {
        r.annotator
        for r in q.annotation_rows(session, [clip_pk])
        if r.task_pk == task_pk and not r.was_cancelled and not r.deleted
    }
    return ls_task_id, max(len(done), 1) + 1


@dataclass(frozen=True)
class _Decision:
    clip_pk: int
    tasks: list[tuple[int, int, int]]  # the clip's tasks in the project
    third: tuple[int, int] | None  # (ls task id, overlap) of the re-check task
    annotation_pk: int | None  # the accepted annotation


def _clip_pk(store: Store, clip_id: str, third_pass: bool) -> int:
    with store.session() as session:
        clip = q.clip_by_id(session, clip_id)
        if clip is None:
            raise NotFoundError(f"clip {clip_id} is not in the store", "check the clip id")
        if third_pass:
            _require_open_disagreement(session, clip.id, clip_id)
        return clip.id


def _decision(
    store: Store,
    clip_id: str,
    clip_pk: int,
    project_pk: int,
    accept: int | None,
    where: str,
) -> _Decision:
    """What the decision needs from the store, checked (the clip's task, the annotation)."""
    with store.session() as session:
        tasks = [t for t in q.tasks_of_clip(session, clip_pk) if t[2] == project_pk]
        if not tasks:
            raise NotFoundError(f"clip {clip_id} has no task in {where}", "push first")
        third = _third_pass_task(session, clip_pk) if accept is None else None
        ann_pk = None
        if accept is not None:
            ann = q.annotation_of_clip(session, clip_pk, accept)
            if ann is None:
                raise NotFoundError(
                    f"annotation {accept} is not an annotation of clip {clip_id}",
                    "use an id from `avel annotate qc report`",
                )
            if ann.deleted_at is not None or ann.was_cancelled:
                raise ConfigError(f"annotation {accept} of clip {clip_id} is deleted or skipped")
            ann_pk = ann.id
        return _Decision(clip_pk, tasks, third, ann_pk)


def adjudicate(
    store: Store,
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
    clip_pk = _clip_pk(store, clip_id, third_pass)
    proj = require_project(store, client, project)
    where = f"project {project!r} on {client.url}"
    d = _decision(store, clip_id, clip_pk, proj.pk, accept, where)
    ls_task_id = d.tasks[-1][1]
    if accept is not None:
        client.update_annotation(accept, ground_truth=True)
    elif d.third is not None:
        # the re-check task: its stream serves neither the first annotator (placeholder)
        # nor anyone who labelled it already
        ls_task_id, overlap = d.third
        client.update_task(ls_task_id, overlap=overlap, is_labeled=False)
    else:  # drawn before re-check projects: the first-pass task, as then
        client.update_task(ls_task_id, overlap=3, is_labeled=False)
    with store.session() as session:
        if d.annotation_pk is not None:
            q.set_ground_truth(session, d.annotation_pk)
        decision = "accept" if accept is not None else "third_pass"
        q.add_adjudication(session, clip_pk, decision, who, d.annotation_pk, note)
        changes = recompute_curated(session, [clip_pk])
    return AdjudicationReport(clip_id, decision, who, accept, ls_task_id, changes)
