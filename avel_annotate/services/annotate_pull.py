"""`avel annotate pull`: annotations back from Label Studio into the store, in three steps.

1. The adapter (``labelstudio.export``) turns the server's export into typed, validated records
   (a malformed annotation stops the pull before anything is stored).
2. A pure function (``domain.annotation_diff``) compares them with the stored annotations: new,
   edited, deleted.
3. The diff is stored in one short unit of work, with a revision per change; curated labels of
   the clips it touched follow. Pulling twice changes nothing.

Every HTTP call (storage, users, export) happens with no session open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from avel_annotate.config import Settings
from avel_annotate.domain.annotation_diff import AnnotationDiff, KnownTask, diff_annotations
from avel_annotate.domain.ls_results import PulledAnnotation
from avel_annotate.labelstudio.client import LsClient
from avel_annotate.labelstudio.export import MalformedAnnotationError, parse_export
from avel_annotate.services import gold, recheck
from avel_annotate.services.curation import CurationChanges, recompute_curated
from avel_annotate.services.labelstudio import STORAGE_TITLE, client_for
from avel_annotate.services.ls_projects import DEFAULT_PROJECT, require_project
from avel_annotate.store import annotations as q
from avel_annotate.store import ls_projects as lq
from avel_annotate.store.clips import category_ids
from avel_annotate.store.database import Store
from avel_annotate.store.pull import store_diff, stored_annotations
from avel_annotate.store.tables import utcnow

__all__ = ["MalformedAnnotationError", "PullReport", "pull"]


@dataclass(frozen=True)
class PullReport:
    url: str
    project: str
    ls_project_id: int
    tasks_seen: int
    annotations_seen: int
    new: int
    updated: int
    deleted: int
    cancelled: int
    unknown_tasks: int
    curated: CurationChanges
    recheck_ls_project_id: int | None = None  # the re-check project pulled too, if any
    placeholders: int = 0  # re-check placeholders seen (never stored)
    gold_answers: int = 0  # new answers to gold task copies (scored, never first passes)


@dataclass(frozen=True)
class _Target:
    """One project pulled: the first-pass one (round base 0) or its re-check (base 1)."""

    pk: int
    ls_project_id: int
    round_base: int


def _targets(store: Store, settings: Settings, client: LsClient, project: str) -> list[_Target]:
    """The project and its re-check project (if any), their storages pointed at the clips
    folder as it is now (the data dir may have moved since the push: videos play only from a
    storage over the clips folder as it is)."""
    proj = require_project(store, client, project)
    found = [_Target(proj.pk, proj.ls_project_id, 0)]
    rc = recheck.find_recheck_project(store, client, project)
    if rc is not None:
        found.append(_Target(rc.pk, rc.ls_project_id, 1))
    clips_dir = settings.clips_dir.resolve()
    clips_dir.mkdir(parents=True, exist_ok=True)
    storages = [
        client.ensure_local_storage(t.ls_project_id, str(clips_dir), STORAGE_TITLE) for t in found
    ]
    with store.session() as s:
        for t, storage in zip(found, storages, strict=True):
            lq.set_storage(s, t.pk, storage)
    return found


@dataclass
class _Parsed:
    known: list[list[KnownTask]]  # per target
    gold_seen: list[tuple[int, PulledAnnotation]]  # (gold task pk, answer)
    unknown: int = 0
    placeholders: int = 0


def _parse(
    store: Store, targets: list[_Target], exports: list[list[dict[str, Any]]]
) -> tuple[_Parsed, dict[str, int]]:
    """Step 1: records of the exported tasks the store knows (and the gold copies' answers)."""
    with store.session() as s:
        cats = category_ids(s)
        tasks = [q.tasks_of(s, t.pk) for t in targets]
        gold_tasks = gold.q.gold_tasks_of(s, targets[0].pk)
    out = _Parsed([], [])
    for i, exported in enumerate(exports):
        golds = {t: v[0] for t, v in gold_tasks.items()} if i == 0 else {}
        wanted = tasks[i].keys() | golds.keys()
        parsed = parse_export(exported, cats.keys(), wanted)
        out.unknown += parsed.skipped
        known: list[KnownTask] = []
        for task in parsed.tasks:
            if task.ls_task_id not in tasks[i]:
                out.gold_seen += [(golds[task.ls_task_id], a) for a in task.annotations]
                continue
            task_pk, clip_pk = tasks[i][task.ls_task_id]
            known.append(KnownTask(task_pk, clip_pk, task))
            out.placeholders += task.placeholders
        out.known.append(known)
    return out, cats


def pull(
    store: Store,
    settings: Settings,
    *,
    project: str = DEFAULT_PROJECT,
    client: LsClient | None = None,
) -> PullReport:
    """Pull the project and, when `qc sample` made one, its re-check project (whose
    annotations are matched back to their clips by clip id and become round 2 and later).

    ``client``: another client of the same interface (the loop benchmark's scripted one)."""
    client = client or client_for(settings)
    targets = _targets(store, settings, client, project)
    users = client.users()
    exports = [client.export_tasks(t.ls_project_id) for t in targets]
    parsed, cats = _parse(store, targets, exports)
    now = utcnow()
    with store.session() as s:
        diffs = [
            diff_annotations(known, stored_annotations(s, t.pk), cats, t.round_base)
            for t, known in zip(targets, parsed.known, strict=True)
        ]
        for diff in diffs:
            store_diff(s, diff, users, now)
        gold_new, _updated, _deleted = gold.record_answers(
            s, targets[0].pk, parsed.gold_seen, users, now
        )
        affected = set().union(*(d.affected_clips for d in diffs))
        changes = recompute_curated(s, affected)
    return _report(client.url, project, targets, exports, parsed, diffs, changes, gold_new)


def _report(
    url: str,
    project: str,
    targets: list[_Target],
    exports: list[list[dict[str, Any]]],
    parsed: _Parsed,
    diffs: list[AnnotationDiff],
    curated: CurationChanges,
    gold_new: int,
) -> PullReport:
    return PullReport(
        url=url,
        project=project,
        ls_project_id=targets[0].ls_project_id,
        tasks_seen=sum(len(e) for e in exports),
        annotations_seen=sum(d.annotations for d in diffs),
        new=sum(len(d.new) for d in diffs),
        updated=sum(len(d.edited) for d in diffs),
        deleted=sum(len(d.deleted) for d in diffs),
        cancelled=sum(d.cancelled for d in diffs),
        unknown_tasks=parsed.unknown,
        curated=curated,
        recheck_ls_project_id=targets[1].ls_project_id if len(targets) > 1 else None,
        placeholders=parsed.placeholders,
        gold_answers=gold_new,
    )
