"""The independent re-check: a second Label Studio project that `qc sample` moves drawn clips to.

The re-check project of project ``avel`` is ``avel (re-check)``: the same label config, no
predictions (``show_collab_predictions`` off, no model version), no first-pass annotation, no
annotation history. Its tasks carry the clip id and the re-check project's own identity key
(``domain.ls_identity``), found like first-pass tasks however the server is reached, so
re-running ``qc sample`` never creates a clip's re-check task twice.

Label Studio's free edition cannot assign a task to someone, but its stream never serves a user a
task they already have an annotation on, skipped ones included (``projects/functions/next_task.py``,
``get_not_solved_tasks_qs``), and with ``skip_queue=REQUEUE_FOR_OTHERS`` another user's skip is
not counted at all (``Task.get_lock_exclude_query``). So each re-check task is imported with one
skipped, empty placeholder annotation per first-pass annotator: the stream never serves them
their own re-check, everybody else gets it. ``annotate pull`` drops those placeholders (they name
their users in the task's ``meta.avel_not_for``), so they never count as labelled. A third pass
goes to the same task (``overlap`` 2): neither of the first two annotators is served it again.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from avel_annotate.config import Settings
from avel_annotate.labelstudio.client import LsClient
from avel_annotate.services.ls_projects import ensure_project, find_project
from avel_annotate.store import annotations as q
from avel_annotate.store.engine import session_scope
from avel_annotate.store.tables import Annotation, Clip, LsProject, LsTask

log = logging.getLogger(__name__)

ROLE = "recheck"
TITLE_SUFFIX = " (re-check)"

# Everything Label Studio 1.23.2 offers to keep the first pass and the model out of sight:
# no predictions shown (there are none), no history, skips requeued for the others only.
PROJECT_SETTINGS: dict[str, Any] = {
    "maximum_annotations": 1,
    "show_collab_predictions": False,
    "evaluate_predictions_automatically": False,
    "reveal_preannotations_interactively": False,
    "show_annotation_history": False,
    "show_ground_truth_first": False,
    "show_overlap_first": False,
    "skip_queue": "REQUEUE_FOR_OTHERS",
}


def recheck_title(project: str) -> str:
    return f"{project}{TITLE_SUFFIX}"


def is_recheck_title(title: str) -> bool:
    return title.endswith(TITLE_SUFFIX)


def ensure_recheck_project(
    client: LsClient, settings: Settings, project: str
) -> tuple[int, int, str]:
    """``(store project pk, Label Studio project id, key)`` of the re-check project of
    ``project`` on this server (found by its key under any URL), else created. Its hiding
    settings are applied every time, so one changed by hand gets them back."""
    return ensure_project(client, settings, recheck_title(project), PROJECT_SETTINGS, reapply=True)


def find_recheck_project(session: Session, client: LsClient, project: str) -> LsProject | None:
    return find_project(session, client, recheck_title(project))


@dataclass(frozen=True)
class DispatchReport:
    ls_project_id: int
    created: int  # re-check tasks imported now
    reconciled: int  # found on the server, recorded in the store
    already: int  # drawn clips that had their re-check task


def _first_annotators(
    session: Session, clip_pks: Collection[int], first_project: int
) -> dict[int, list[int]]:
    """Label Studio user ids of every first-pass annotator (usable or skipped) per clip."""
    out: dict[int, set[int]] = {}
    wanted = list(clip_pks)
    for i in range(0, len(wanted), 500):
        stmt = (
            select(Annotation.clip_id, Annotation.annotator_ls_id)
            .join(LsTask, Annotation.task_id == LsTask.id)
            .where(
                LsTask.project_id == first_project,
                Annotation.clip_id.in_(wanted[i : i + 500]),
                Annotation.annotator_ls_id.is_not(None),
                Annotation.deleted_at.is_(None),
            )
        )
        for clip_pk, uid in session.execute(stmt):
            if uid is not None:
                out.setdefault(clip_pk, set()).add(int(uid))
    return {c: sorted(u) for c, u in out.items()}


def recheck_task(clip_id: str, media_path: str, key: str, not_for: list[int]) -> dict[str, Any]:
    """A re-check task: like a first-pass task without predictions, with a skipped empty
    placeholder per first annotator (``ground_truth`` false: Label Studio's import makes an
    annotation ground truth unless told otherwise)."""
    return {
        "data": {
            "video": "/data/local-files/?d=" + urllib.parse.quote(media_path, safe="/"),
            "clip_id": clip_id,
            "avel_project": key,
        },
        "meta": {
            "avel_project": key,
            "clip_id": clip_id,
            "avel_role": ROLE,
            "avel_not_for": not_for,
        },
        "annotations": [
            {"result": [], "was_cancelled": True, "completed_by": uid, "ground_truth": False}
            for uid in not_for
        ],
    }


def dispatch(
    settings: Settings,
    client: LsClient,
    engine: Any,
    project: str,
    first_project_pk: int,
    clip_pks: Iterable[int],
    batch_size: int = 200,
) -> DispatchReport:
    """Give every clip in ``clip_pks`` a task in the re-check project, exactly once.

    Works for any set of clips (a draw, a flagged annotator's clips); a clip that has its
    re-check task already is left alone. Tasks the server holds but the store does not (a run
    stopped after an import) are recorded first, by clip id.
    """
    wanted = sorted(set(clip_pks))
    pk, pid, key = ensure_recheck_project(client, settings, project)
    if not wanted:
        return DispatchReport(pid, 0, 0, 0)
    with session_scope(engine) as session:
        stored = q.tasks_of(session, pk)
        have = {clip_pk for _t, clip_pk in stored.values()}
        server = [(t, c) for t, c in client.task_clip_ids(pid) if t not in stored and c]
        pks = q.clip_pks(session, [c for _t, c in server])
        rows = []
        for task_id, clip_id in sorted(server):
            clip_pk = pks.get(clip_id)  # type: ignore[arg-type]
            if clip_pk is not None and clip_pk not in have:
                have.add(clip_pk)
                rows.append((clip_pk, task_id, None))
        q.insert_tasks(session, pk, rows)
        todo = [c for c in wanted if c not in have]
        clips = {
            r[0]: (r[1], str(r[2]))
            for r in session.execute(
                select(Clip.id, Clip.clip_id, Clip.media_path).where(Clip.id.in_(todo))
            )
        }
        not_for = _first_annotators(session, todo, first_project_pk)
    created = 0
    for i in range(0, len(todo), batch_size):
        batch = [c for c in todo[i : i + batch_size] if c in clips]
        tasks = [recheck_task(*clips[c], key, not_for.get(c, [])) for c in batch]
        ids = client.import_tasks(pid, tasks)
        with session_scope(engine) as session:
            q.insert_tasks(session, pk, [(c, t, None) for c, t in zip(batch, ids, strict=True)])
        for task_id, task in zip(ids, tasks, strict=True):
            if task["annotations"]:
                # the import counts a placeholder's user towards the overlap: back to the queue
                client.update_task(task_id, is_labeled=False)
        created += len(ids)
    log.info("re-check project %d: %d tasks created, %d recorded", pid, created, len(rows))
    return DispatchReport(pid, created, len(rows), len(wanted) - len(todo) - len(rows))


def placeholder(task: dict[str, Any], ann: dict[str, Any], user_id: int | None) -> bool:
    """A skipped placeholder that `dispatch` imported (pull never stores it)."""
    meta = task.get("meta") or {}
    if meta.get("avel_role") != ROLE or not ann.get("was_cancelled") or ann.get("result"):
        return False
    return user_id is not None and user_id in (meta.get("avel_not_for") or [])


def recheck_tasks_of(
    session: Session, clip_pks: Iterable[int] | None = None
) -> dict[int, tuple[int, int]]:
    """``clip pk -> (task pk, ls task id)`` of re-check tasks (any re-check project)."""
    stmt = (
        select(LsTask.clip_id, LsTask.id, LsTask.ls_task_id, LsProject.title)
        .join(LsProject, LsTask.project_id == LsProject.id)
        .order_by(LsTask.id)
    )
    if clip_pks is not None:
        stmt = stmt.where(LsTask.clip_id.in_(list(clip_pks)))
    return {r[0]: (r[1], r[2]) for r in session.execute(stmt) if is_recheck_title(r[3])}
