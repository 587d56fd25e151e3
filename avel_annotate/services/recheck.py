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
their own re-check, everybody else gets it. ``annotate pull`` drops those placeholders
(``domain.ls_results.is_placeholder``: they name their users in the task's
``meta.avel_not_for``), so they never count as labelled. A third pass
goes to the same task (``overlap`` 2): neither of the first two annotators is served it again.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from avel_annotate.config import Settings
from avel_annotate.domain.ls_results import (
    RECHECK_ROLE,
    RECHECK_SUFFIX,
    is_recheck_title,
    recheck_title,
)
from avel_annotate.labelstudio.client import LsClient
from avel_annotate.services.ls_projects import ProjectRow, ensure_project, find_project
from avel_annotate.store import annotations as q
from avel_annotate.store import ls_projects as lq
from avel_annotate.store.database import Store

log = logging.getLogger(__name__)

ROLE = RECHECK_ROLE
TITLE_SUFFIX = RECHECK_SUFFIX
recheck_tasks_of = lq.recheck_tasks_of

__all__ = [
    "PROJECT_SETTINGS",
    "DispatchReport",
    "dispatch",
    "ensure_recheck_project",
    "find_recheck_project",
    "is_recheck_title",
    "recheck_task",
    "recheck_tasks_of",
    "recheck_title",
]

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


def ensure_recheck_project(
    store: Store, client: LsClient, settings: Settings, project: str
) -> tuple[int, int, str]:
    """``(store project pk, Label Studio project id, key)`` of the re-check project of
    ``project`` on this server (found by its key under any URL), else created. Its hiding
    settings are applied every time, so one changed by hand gets them back."""
    return ensure_project(
        store, client, settings, recheck_title(project), PROJECT_SETTINGS, reapply=True
    )


def find_recheck_project(store: Store, client: LsClient, project: str) -> ProjectRow | None:
    return find_project(store, client, recheck_title(project))


@dataclass(frozen=True)
class DispatchReport:
    ls_project_id: int
    created: int  # re-check tasks imported now
    reconciled: int  # found on the server, recorded in the store
    already: int  # drawn clips that had their re-check task


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


@dataclass(frozen=True)
class _Todo:
    clips: list[int]  # clip pks still without a re-check task
    media: dict[int, tuple[str, str]]  # clip pk -> (clip id, media path)
    not_for: dict[int, list[int]]  # clip pk -> first annotators' Label Studio ids
    reconciled: int


def _reconcile(
    store: Store,
    pk: int,
    server: list[tuple[int, str | None]],
    wanted: list[int],
    first_project_pk: int,
) -> _Todo:
    """Record the server's re-check tasks the store lacks (by clip id); what is left to send."""
    with store.session() as session:
        stored = q.tasks_of(session, pk)
        have = {clip_pk for _t, clip_pk in stored.values()}
        unknown = [(t, c) for t, c in server if t not in stored and c is not None and c]
        pks = q.clip_pks(session, [c for _t, c in unknown])
        rows = []
        for task_id, clip_id in sorted(unknown):
            clip_pk = pks.get(clip_id)
            if clip_pk is not None and clip_pk not in have:
                have.add(clip_pk)
                rows.append((clip_pk, task_id, None))
        q.insert_tasks(session, pk, rows)
        todo = [c for c in wanted if c not in have]
        media = lq.clip_media(session, todo)
        not_for = lq.first_annotators(session, todo, first_project_pk)
    return _Todo(todo, media, not_for, len(rows))


def dispatch(
    store: Store,
    settings: Settings,
    client: LsClient,
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
    pk, pid, key = ensure_recheck_project(store, client, settings, project)
    if not wanted:
        return DispatchReport(pid, 0, 0, 0)
    todo = _reconcile(store, pk, client.task_clip_ids(pid), wanted, first_project_pk)
    created = 0
    for i in range(0, len(todo.clips), batch_size):
        batch = [c for c in todo.clips[i : i + batch_size] if c in todo.media]
        tasks = [recheck_task(*todo.media[c], key, todo.not_for.get(c, [])) for c in batch]
        ids = client.import_tasks(pid, tasks)
        with store.session() as session:
            q.insert_tasks(session, pk, [(c, t, None) for c, t in zip(batch, ids, strict=True)])
        for task_id, task in zip(ids, tasks, strict=True):
            if task["annotations"]:
                # the import counts a placeholder's user towards the overlap: back to the queue
                client.update_task(task_id, is_labeled=False)
        created += len(ids)
    log.info("re-check project %d: %d tasks created, %d recorded", pid, created, todo.reconciled)
    already = len(wanted) - len(todo.clips) - todo.reconciled
    return DispatchReport(pid, created, todo.reconciled, already)
