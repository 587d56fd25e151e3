"""Store what a pull changed (``domain.annotation_diff``): annotation rows and one revision per
change. Callers own the transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from avel_annotate.domain.annotation_diff import AnnotationDiff, StoredAnnotation, Tracked
from avel_annotate.domain.ls_results import annotator_name
from avel_annotate.store.tables import Annotation, AnnotationRevision, LsTask


def stored_annotations(session: Session, project_pk: int) -> list[StoredAnnotation]:
    """Every stored annotation of a project's tasks, deleted ones included."""
    stmt = (
        select(
            Annotation.id,
            Annotation.ls_annotation_id,
            Annotation.clip_id,
            Annotation.segments,
            Annotation.category_id,
            Annotation.was_cancelled,
            Annotation.round,
            Annotation.ground_truth,
            Annotation.ls_updated_at,
            Annotation.deleted_at.is_not(None),
        )
        .join(LsTask, Annotation.task_id == LsTask.id)
        .where(LsTask.project_id == project_pk)
        .order_by(Annotation.id)
    )
    return [
        StoredAnnotation(
            r[0], r[1], r[2], Tracked(r[3], r[4], bool(r[5]), r[6], bool(r[7]), r[8]), bool(r[9])
        )
        for r in session.execute(stmt)
    ]


def _revision(pk: int, change: str, v: Tracked, now: datetime) -> dict[str, Any]:
    return {
        "annotation_id": pk,
        "change": change,
        "segments": v.segments,
        "category_id": v.category_id,
        "was_cancelled": v.was_cancelled,
        "ls_updated_at": v.ls_updated_at,
        "recorded_at": now,
    }


def _values(v: Tracked) -> dict[str, Any]:
    return {
        "segments": v.segments,
        "category_id": v.category_id,
        "was_cancelled": v.was_cancelled,
        "round": v.round,
        "ground_truth": v.ground_truth,
        "ls_updated_at": v.ls_updated_at,
    }


def store_diff(
    session: Session, diff: AnnotationDiff, users: dict[int, str], now: datetime
) -> None:
    """Insert the new annotations, update the edited ones, mark the deleted ones; a revision
    row for each (revisions of edits and deletions first, as pulls always wrote them)."""
    revisions = []
    for e in diff.edited:
        values = {**_values(e.values), "lead_time_s": e.lead_time_s}
        session.execute(
            update(Annotation)
            .where(Annotation.id == e.pk)
            .values(**values, deleted_at=None, pulled_at=now)
        )
        revisions.append(_revision(e.pk, "updated", e.values, now))
    mark_deleted(session, (d.pk for d in diff.deleted), now)
    revisions += [_revision(d.pk, "deleted", d.values, now) for d in diff.deleted]
    rows = [
        {
            **_values(n.values),
            "task_id": n.task_pk,
            "clip_id": n.clip_pk,
            "ls_annotation_id": n.ls_id,
            "annotator": annotator_name(n.annotator_ls_id, users),
            "annotator_ls_id": n.annotator_ls_id,
            "lead_time_s": n.lead_time_s,
            "ls_created_at": n.ls_created_at,
            "pulled_at": now,
        }
        for n in diff.new
    ]
    if rows:
        stmt = insert(Annotation).returning(Annotation.id, sort_by_parameter_order=True)
        ids = list(session.scalars(stmt, rows))
        revisions += [
            _revision(pk, "created", n.values, now) for pk, n in zip(ids, diff.new, strict=True)
        ]
    if revisions:
        session.execute(insert(AnnotationRevision), revisions)


def mark_deleted(session: Session, pks: Iterable[int], now: datetime) -> None:
    wanted = list(pks)
    for i in range(0, len(wanted), 500):
        session.execute(
            update(Annotation).where(Annotation.id.in_(wanted[i : i + 500])).values(deleted_at=now)
        )
