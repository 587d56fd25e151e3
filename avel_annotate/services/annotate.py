"""`avel annotate push|pull`: clips to Label Studio tasks, annotations back into the store.

Push is idempotent and resumable: every task carries its ``clip_id`` in its data, task ids are
recorded right after each batch, and before importing, tasks that exist on the server but not in
the store (a batch that reached the server just before a crash) are recorded instead of
re-created. Pull keeps each annotation's history: new, edited and deleted annotations each add a
revision, and pulling twice changes nothing.
"""

from __future__ import annotations

import logging
import random
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rich.progress import track

from avel_annotate.config import Settings
from avel_annotate.domain.ls_results import (
    InvalidResultError,
    Labels,
    assign_rounds,
    labels_to_result,
    result_to_labels,
)
from avel_annotate.domain.uncertainty import order_by_confidence
from avel_annotate.errors import ConfigError, LabelStudioError, NotFoundError
from avel_annotate.labelstudio.client import LsClient, schema_problem
from avel_annotate.services import gold, recheck
from avel_annotate.services.curation import CurationChanges, recompute_curated
from avel_annotate.services.labelstudio import STORAGE_TITLE, client_for
from avel_annotate.services.ls_projects import ensure_project, require_project
from avel_annotate.services.store import open_engine
from avel_annotate.store import annotations as q
from avel_annotate.store.clips import category_ids, category_names
from avel_annotate.store.engine import session_scope
from avel_annotate.store.tables import Annotation, utcnow

log = logging.getLogger(__name__)

ORDERS = ("list", "uncertainty", "random")
DEFAULT_PROJECT = "avel"


@dataclass(frozen=True)
class PushReport:
    url: str
    project: str
    ls_project_id: int
    created: int
    with_predictions: int
    reconciled: int
    already_pushed: int
    remaining: int
    model_version: str | None
    order: str
    duplicates_on_server: list[int] = field(default_factory=list)
    gold_copies: int = 0  # gold task copies mixed in (unannounced), not counted in created


# a first-pass project: one annotation a task; re-queued (overlap) tasks first
FIRST_PASS_SETTINGS: dict[str, Any] = {"maximum_annotations": 1, "show_overlap_first": True}


def _ensure_project(client: LsClient, settings: Settings, title: str) -> tuple[int, int, str]:
    return ensure_project(client, settings, title, FIRST_PASS_SETTINGS)


def _task(
    c: q.PushCandidate,
    pred: q.PredictionRow | None,
    model: str | None,
    cats: set[str],
    key: str,
) -> dict[str, Any]:
    task: dict[str, Any] = {
        "data": {
            "video": "/data/local-files/?d=" + urllib.parse.quote(c.media_path, safe="/"),
            "clip_id": c.clip_id,
            "avel_project": key,
        },
        "meta": {"avel_project": key, "clip_id": c.clip_id},
    }
    if pred is not None and model is not None:
        category = pred.category if pred.category in cats else None
        score = min(max(float(pred.score), 0.0), 1.0)
        task["predictions"] = [
            {
                "model_version": model,
                "score": score,
                "result": labels_to_result(pred.segments, category, score=score),
            }
        ]
    return task


def push(
    settings: Settings,
    *,
    project: str = DEFAULT_PROJECT,
    split: str | None = None,
    limit: int | None = None,
    model: str | None = None,
    order: str = "list",
    seed: int = 0,
    batch_size: int = 500,
    gold_rate: float = gold.dg.DEFAULT_GOLD_RATE,
    client: LsClient | None = None,
) -> PushReport:
    if order not in ORDERS:
        raise ConfigError(f"unknown order {order!r}", f"use one of {', '.join(ORDERS)}")
    if order == "uncertainty" and model is None:
        raise ConfigError("--order uncertainty needs --model VERSION", "name a model version")
    client = client or client_for(settings)
    project_pk, pid, key = _ensure_project(client, settings, project)
    engine = open_engine(settings)
    try:
        with session_scope(engine) as session:
            mv_pk = None
            if model is not None:
                mv_pk = q.model_version_id(session, model)
                if mv_pk is None:
                    raise NotFoundError(
                        f"model version {model!r} does not exist", "see avel models"
                    )
            stored = q.tasks_of(session, project_pk)
            already = len(stored)
            # reconcile: tasks on the server that the store does not know yet
            server = client.task_clip_ids(pid)
            unknown = [(t, c) for t, c in server if t not in stored and c]
            pks = q.clip_pks(session, [c for _, c in unknown])
            unknown, adopted = gold.reconcile(session, project_pk, unknown, pks)  # type: ignore[arg-type]
            have = {clip_pk for _, clip_pk in stored.values()}
            rows, duplicates = [], []
            for task_id, clip_id in sorted(unknown):
                clip_pk = pks.get(clip_id)  # type: ignore[arg-type]
                if clip_pk is None:
                    continue
                if clip_pk in have:
                    duplicates.append(task_id)
                    continue
                have.add(clip_pk)
                rows.append((clip_pk, task_id, None))
            q.insert_tasks(session, project_pk, rows)
            if rows:
                log.info("recorded %d tasks found on the server but not in the store", len(rows))
            candidates = gold.exclude_gold(session, q.push_candidates(session, project_pk, split))
            preds = q.predictions_of(session, mv_pk) if mv_pk is not None else {}
            cats = set(category_names(session))
        if order == "random":
            random.Random(seed).shuffle(candidates)
        elif order == "uncertainty":
            scores = [preds[c.pk].score if c.pk in preds else None for c in candidates]
            candidates = [candidates[i] for i in order_by_confidence(scores)]
        chosen = candidates[:limit] if limit else candidates
        with session_scope(engine) as session:
            mix = gold.plan(session, project_pk, len(chosen), gold_rate, seed)
        ordinary = iter(chosen)
        mixed = [(next(ordinary), False) if g is None else (mix.gold[g], True) for g in mix.order]
        created = with_preds = gold_copies = 0
        batches = [mixed[i : i + batch_size] for i in range(0, len(mixed), batch_size)]
        for batch in track(batches, "pushing", disable=not settings.progress or not batches):
            tasks = [_task(c, preds.get(c.pk), model, cats, key) for c, _g in batch]
            golds = [(c.pk, mv_pk if c.pk in preds else None) for c, g in batch if g]
            with session_scope(engine) as session:  # recorded first: a crash leaves them pending
                pending = iter(gold.q.add_pending(session, project_pk, golds))
            ids = client.import_tasks(pid, tasks)
            with session_scope(engine) as session:
                q.insert_tasks(
                    session,
                    project_pk,
                    [
                        (c.pk, t, mv_pk if c.pk in preds else None)
                        for (c, g), t in zip(batch, ids, strict=True)
                        if not g
                    ],
                )
                copies = [t for (_c, g), t in zip(batch, ids, strict=True) if g]
                gold.q.set_task_ids(session, [(next(pending), t) for t in copies])
            created += len(ids) - len(golds)
            gold_copies += len(golds)
            with_preds += sum(1 for c, g in batch if c.pk in preds and not g)
        if model is not None and with_preds:
            # only now: the server accepts a model version once predictions of it exist
            client.update_project(pid, model_version=model)
        return PushReport(
            url=client.url,
            project=project,
            ls_project_id=pid,
            created=created,
            with_predictions=with_preds,
            reconciled=len(rows) + adopted,
            already_pushed=already,
            remaining=len(candidates) - len(chosen),
            model_version=model,
            order=order,
            duplicates_on_server=duplicates,
            gold_copies=gold_copies,
        )
    finally:
        engine.dispose()


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


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _user_id(value: Any) -> int | None:
    if isinstance(value, dict):
        value = value.get("id")
    return int(value) if isinstance(value, int) else None


class MalformedAnnotationError(LabelStudioError):
    """An annotation on the server that does not fit the schema or the label config."""


_TRACKED = ("segments", "category_id", "was_cancelled", "round", "ground_truth", "ls_updated_at")


def pull(
    settings: Settings, *, project: str = DEFAULT_PROJECT, client: LsClient | None = None
) -> PullReport:
    """Pull the project and, when `qc sample` made one, its re-check project (whose
    annotations are matched back to their clips by clip id and become round 2 and later).

    ``client``: another client of the same interface (the loop benchmark's scripted one)."""
    client = client or client_for(settings)
    engine = open_engine(settings)
    try:
        with session_scope(engine) as session:
            proj = require_project(session, client, project)
            pk, pid = proj.id, proj.ls_project_id
            # the data dir may have moved since the push: videos play only from a storage
            # over the clips folder as it is now
            clips_dir = settings.clips_dir.resolve()
            clips_dir.mkdir(parents=True, exist_ok=True)
            proj.storage_id = client.ensure_local_storage(pid, str(clips_dir), STORAGE_TITLE)
            targets = [(pk, pid, 0)]
            rc = recheck.find_recheck_project(session, client, project)
            if rc is not None:
                rc.storage_id = client.ensure_local_storage(
                    rc.ls_project_id, str(clips_dir), STORAGE_TITLE
                )
                targets.append((rc.id, rc.ls_project_id, 1))
        users = client.users()
        exports = [(t_pk, base, client.export_tasks(t_pid)) for t_pk, t_pid, base in targets]
        with session_scope(engine) as session:
            cats = category_ids(session)
            now = utcnow()
            c = _PullCounts()
            gold_tasks = gold.q.gold_tasks_of(session, pk)
            for t_pk, base, exported in exports:
                _pull_project(
                    session,
                    t_pk,
                    base,
                    exported,
                    users,
                    cats,
                    now,
                    c,
                    gold_tasks if t_pk == pk else {},
                )
            gold_new, _gold_updated, _gold_deleted = gold.record_answers(
                session, pk, c.gold_seen, users, now
            )
            changes = recompute_curated(session, c.affected)
        return PullReport(
            url=client.url,
            project=project,
            ls_project_id=pid,
            tasks_seen=sum(len(e) for _p, _b, e in exports),
            annotations_seen=c.n_ann,
            new=c.new,
            updated=c.updated,
            deleted=c.deleted,
            cancelled=c.cancelled,
            unknown_tasks=c.unknown,
            curated=changes,
            recheck_ls_project_id=targets[1][1] if len(targets) > 1 else None,
            placeholders=c.placeholders,
            gold_answers=gold_new,
        )
    finally:
        engine.dispose()


@dataclass
class _PullCounts:
    n_ann: int = 0
    new: int = 0
    updated: int = 0
    deleted: int = 0
    cancelled: int = 0
    unknown: int = 0
    placeholders: int = 0
    affected: set[int] = field(default_factory=set)
    # answers to gold task copies: (gold task pk, annotation, labels); scored, never stored here
    gold_seen: list[tuple[int, dict[str, Any], Labels]] = field(default_factory=list)


def _pull_project(
    session: Any,
    pk: int,
    round_base: int,
    exported: list[dict[str, Any]],
    users: dict[int, str],
    cats: dict[str, int],
    now: datetime,
    c: _PullCounts,
    gold_tasks: dict[int, Any],
) -> None:
    """Store one project's exported annotations (rounds start at ``1 + round_base``); the
    answers to gold task copies (``gold_tasks``, by Label Studio task id) go to ``c.gold_seen``."""
    tasks = q.tasks_of(session, pk)
    existing = {a.ls_annotation_id: a for a in q.annotations_of_project(session, pk)}
    seen: set[int] = set()
    new_rows: list[dict[str, Any]] = []
    revisions: list[dict[str, Any]] = []
    affected = c.affected
    for task in exported:
        known = tasks.get(int(task.get("id", -1)))
        if known is None and int(task.get("id", -1)) in gold_tasks:
            gold_pk = gold_tasks[int(task["id"])][0]
            for ann in task.get("annotations") or []:
                c.gold_seen.append((gold_pk, ann, _checked_labels(ann, task, cats.keys())))
            continue
        if known is None:
            c.unknown += 1
            continue
        task_pk, clip_pk = known
        anns = sorted(
            task.get("annotations") or [],
            key=lambda a: (a.get("created_at") or "", a.get("id", 0)),
        )
        kept = [
            a for a in anns if not recheck.placeholder(task, a, _user_id(a.get("completed_by")))
        ]
        c.placeholders += len(anns) - len(kept)
        anns = kept
        rounds = assign_rounds([(a.get("id"), bool(a.get("was_cancelled"))) for a in anns])
        for ann, rnd in zip(anns, rounds, strict=True):
            c.n_ann += 1
            labels = _checked_labels(ann, task, cats.keys())
            seen.add(ann["id"])
            uid = _user_id(ann["completed_by"])
            values = {
                "segments": labels.segments,
                "category_id": cats[labels.category] if labels.category else None,
                "was_cancelled": bool(ann["was_cancelled"]),
                "round": rnd + round_base,
                "ground_truth": bool(ann.get("ground_truth")),
                "ls_updated_at": _time(ann.get("updated_at")),
            }
            c.cancelled += int(bool(ann["was_cancelled"]))
            old = existing.get(ann["id"])
            if old is None:
                new_rows.append(
                    {
                        **values,
                        "task_id": task_pk,
                        "clip_id": clip_pk,
                        "ls_annotation_id": ann["id"],
                        "annotator": users.get(uid, f"user:{uid}") if uid else "unknown",
                        "annotator_ls_id": uid,
                        "lead_time_s": ann.get("lead_time"),
                        "ls_created_at": _time(ann.get("created_at")),
                        "pulled_at": now,
                    }
                )
                affected.add(clip_pk)
            elif old.deleted_at is not None or any(getattr(old, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(old, k, v)
                old.lead_time_s = ann.get("lead_time")
                old.deleted_at = None
                old.pulled_at = now
                revisions.append(_revision(old, "updated", now))
                c.updated += 1
                affected.add(clip_pk)
    for ls_id, old in existing.items():
        if ls_id not in seen and old.deleted_at is None:
            old.deleted_at = now
            revisions.append(_revision(old, "deleted", now))
            c.deleted += 1
            affected.add(old.clip_id)
    ids = q.insert_annotations(session, new_rows)
    for ann_pk, row in zip(ids, new_rows, strict=True):
        revisions.append(
            {
                "annotation_id": ann_pk,
                "change": "created",
                "segments": row["segments"],
                "category_id": row["category_id"],
                "was_cancelled": row["was_cancelled"],
                "ls_updated_at": row["ls_updated_at"],
                "recorded_at": now,
            }
        )
    c.new += len(new_rows)
    session.flush()
    q.insert_revisions(session, revisions)


MALFORMED_HINT = (
    "fix or delete that annotation in Label Studio, then pull again; nothing was stored"
)


def _checked_labels(ann: dict[str, Any], task: dict[str, Any], categories: Any) -> Labels:
    """The labels of one exported annotation, or a one-line error naming task and annotation.

    A malformed annotation stops the pull before anything is stored: skipping it would make it
    look deleted on the next comparison and drop the curated label it supports.
    """
    where = f"annotation {ann.get('id')} of task {task.get('id')}"
    problem = schema_problem("annotation", ann)
    if problem is None:
        try:
            return result_to_labels(ann["result"], categories)
        except InvalidResultError as e:
            problem = str(e)
    raise MalformedAnnotationError(f"{where} is malformed: {problem}", MALFORMED_HINT)


def _revision(ann: Annotation, change: str, now: datetime) -> dict[str, Any]:
    return {
        "annotation_id": ann.id,
        "change": change,
        "segments": ann.segments,
        "category_id": ann.category_id,
        "was_cancelled": ann.was_cancelled,
        "ls_updated_at": ann.ls_updated_at,
        "recorded_at": now,
    }
