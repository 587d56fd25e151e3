"""Queries over Label Studio projects, tasks, annotations, QC draws, adjudications and curated
labels. Callers own the transaction."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from avel_annotate.store.tables import (
    Adjudication,
    Annotation,
    Category,
    Clip,
    CuratedLabel,
    LsProject,
    LsTask,
    ModelVersion,
    Prediction,
    QcDraw,
    utcnow,
)

# -- projects and tasks -------------------------------------------------------------------------


def add_project(
    session: Session, ls_url: str, ls_project_id: int, title: str, config_sha: str
) -> LsProject:
    project = LsProject(
        ls_url=ls_url, ls_project_id=ls_project_id, title=title, label_config_sha256=config_sha
    )
    session.add(project)
    session.flush()
    return project


@dataclass(frozen=True)
class PushCandidate:
    pk: int
    clip_id: str
    media_path: str
    category: str | None


def push_candidates(session: Session, project_pk: int, split: str | None) -> list[PushCandidate]:
    """Fetched clips with media that have no task in the project yet, in clip-list order."""
    pushed = select(LsTask.clip_id).where(LsTask.project_id == project_pk)
    stmt = (
        select(Clip.id, Clip.clip_id, Clip.media_path, Category.name)
        .outerjoin(Category, Clip.category_id == Category.id)
        .where(Clip.status == "fetched", Clip.media_path.is_not(None), Clip.id.not_in(pushed))
        .order_by(Clip.id)
    )
    if split:
        stmt = stmt.where(Clip.split == split)
    return [PushCandidate(r[0], r[1], str(r[2]), r[3]) for r in session.execute(stmt)]


def clip_pks(session: Session, clip_ids: Iterable[str]) -> dict[str, int]:
    wanted = list(set(clip_ids))
    out: dict[str, int] = {}
    for i in range(0, len(wanted), 500):
        stmt = select(Clip.clip_id, Clip.id).where(Clip.clip_id.in_(wanted[i : i + 500]))
        out.update({c: i for c, i in session.execute(stmt)})
    return out


def model_version_id(session: Session, name: str) -> int | None:
    return session.scalar(select(ModelVersion.id).where(ModelVersion.name == name))


@dataclass(frozen=True)
class PredictionRow:
    clip_pk: int
    segments: str
    category: str | None
    score: float


def predictions_of(session: Session, model_version_pk: int) -> dict[int, PredictionRow]:
    stmt = (
        select(Prediction.clip_id, Prediction.segments, Category.name, Prediction.score)
        .outerjoin(Category, Prediction.category_id == Category.id)
        .where(Prediction.model_version_id == model_version_pk)
    )
    return {r[0]: PredictionRow(*r) for r in session.execute(stmt)}


def tasks_of(session: Session, project_pk: int) -> dict[int, tuple[int, int]]:
    """``ls_task_id -> (task pk, clip pk)`` of a project."""
    stmt = select(LsTask.ls_task_id, LsTask.id, LsTask.clip_id).where(
        LsTask.project_id == project_pk
    )
    return {r[0]: (r[1], r[2]) for r in session.execute(stmt)}


def insert_tasks(
    session: Session, project_pk: int, rows: Sequence[tuple[int, int, int | None]]
) -> None:
    """Record ``(clip pk, ls task id, model version pk)`` tasks of a project."""
    if rows:
        now = utcnow()
        session.execute(
            insert(LsTask),
            [
                {
                    "project_id": project_pk,
                    "clip_id": c,
                    "ls_task_id": t,
                    "model_version_id": m,
                    "pushed_at": now,
                }
                for c, t, m in rows
            ],
        )


# -- annotations --------------------------------------------------------------------------------


def insert_annotations(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    if not rows:
        return []
    stmt = insert(Annotation).returning(Annotation.id, sort_by_parameter_order=True)
    return list(session.scalars(stmt, list(rows)))


@dataclass(frozen=True)
class AnnotationRow:
    id: int
    ls_annotation_id: int
    task_pk: int
    ls_task_id: int
    clip_pk: int
    clip_id: str
    annotator: str
    round: int
    segments: str
    category_id: int | None
    category: str | None
    was_cancelled: bool
    deleted: bool
    clip_category: str | None
    split: str | None


def annotation_rows(session: Session, clip_pks: Iterable[int] | None = None) -> list[AnnotationRow]:
    clip_cat = select(Category.id, Category.name).subquery()
    stmt = (
        select(
            Annotation.id,
            Annotation.ls_annotation_id,
            Annotation.task_id,
            LsTask.ls_task_id,
            Annotation.clip_id,
            Clip.clip_id,
            Annotation.annotator,
            Annotation.round,
            Annotation.segments,
            Annotation.category_id,
            Category.name,
            Annotation.was_cancelled,
            Annotation.deleted_at.is_not(None),
            clip_cat.c.name,
            Clip.split,
        )
        .join(LsTask, Annotation.task_id == LsTask.id)
        .join(Clip, Annotation.clip_id == Clip.id)
        .outerjoin(Category, Annotation.category_id == Category.id)
        .outerjoin(clip_cat, Clip.category_id == clip_cat.c.id)
        .order_by(Annotation.clip_id, Annotation.round, Annotation.id)
    )
    if clip_pks is not None:
        stmt = stmt.where(Annotation.clip_id.in_(list(clip_pks)))
    return [AnnotationRow(*r) for r in session.execute(stmt).all()]  # type: ignore[misc, call-arg]


def annotation_of_clip(session: Session, clip_pk: int, ls_annotation_id: int) -> Annotation | None:
    stmt = select(Annotation).where(
        Annotation.ls_annotation_id == ls_annotation_id, Annotation.clip_id == clip_pk
    )
    return session.scalars(stmt.order_by(Annotation.id.desc())).first()


def set_ground_truth(session: Session, annotation_pk: int) -> None:
    session.execute(
        update(Annotation).where(Annotation.id == annotation_pk).values(ground_truth=True)
    )


# -- QC draws and adjudications -----------------------------------------------------------------


def considered_task_pks(session: Session) -> set[int]:
    """Tasks any draw has looked at, drawn or not (a task is considered once)."""
    return set(session.scalars(select(QcDraw.task_id)))


def drawn_clip_pks(session: Session) -> set[int]:
    """Clips a draw selected for an independent re-check (not those it only considered)."""
    return set(session.scalars(select(QcDraw.clip_id).where(QcDraw.selected.is_(True))))


def drawn_task_pks(session: Session) -> set[int]:
    return set(session.scalars(select(QcDraw.task_id).where(QcDraw.selected.is_(True))))


def next_draw_run(session: Session) -> int:
    return int(session.scalar(select(func.coalesce(func.max(QcDraw.draw_run), 0))) or 0) + 1


def insert_draws(
    session: Session,
    rows: Sequence[tuple[int, int, bool]],
    *,
    draw_run: int,
    seed: int,
    fraction: float,
) -> None:
    """Record ``(task pk, clip pk, selected)`` candidates of one draw."""
    if rows:
        now = utcnow()
        session.execute(
            insert(QcDraw),
            [
                {
                    "task_id": t,
                    "clip_id": c,
                    "selected": s,
                    "draw_run": draw_run,
                    "seed": seed,
                    "fraction": fraction,
                    "drawn_at": now,
                }
                for t, c, s in rows
            ],
        )


def adjudications_by_clip(
    session: Session, clip_pks: Iterable[int] | None = None
) -> dict[int, list[Adjudication]]:
    stmt = select(Adjudication).order_by(Adjudication.id)
    if clip_pks is not None:
        stmt = stmt.where(Adjudication.clip_id.in_(list(clip_pks)))
    out: dict[int, list[Adjudication]] = defaultdict(list)
    for adj in session.scalars(stmt):
        out[adj.clip_id].append(adj)
    return out


def add_adjudication(
    session: Session,
    clip_pk: int,
    decision: str,
    decided_by: str,
    accepted_annotation_pk: int | None = None,
    note: str | None = None,
) -> int:
    adj = Adjudication(
        clip_id=clip_pk,
        decision=decision,
        accepted_annotation_id=accepted_annotation_pk,
        decided_by=decided_by,
        note=note,
    )
    session.add(adj)
    session.flush()
    return adj.id


def clip_by_id(session: Session, clip_id: str) -> Clip | None:
    return session.scalars(select(Clip).where(Clip.clip_id == clip_id)).first()


def tasks_of_clip(session: Session, clip_pk: int) -> list[tuple[int, int, int]]:
    """``(task pk, ls task id, store project pk)`` of every task of a clip."""
    stmt = (
        select(LsTask.id, LsTask.ls_task_id, LsTask.project_id)
        .where(LsTask.clip_id == clip_pk)
        .order_by(LsTask.id)
    )
    return [(r[0], r[1], r[2]) for r in session.execute(stmt)]


# -- curated labels -----------------------------------------------------------------------------


def curated_of(session: Session, clip_pks: Iterable[int]) -> dict[int, CuratedLabel]:
    wanted = list(clip_pks)
    out: dict[int, CuratedLabel] = {}
    for i in range(0, len(wanted), 500):
        stmt = select(CuratedLabel).where(CuratedLabel.clip_id.in_(wanted[i : i + 500]))
        out.update({c.clip_id: c for c in session.scalars(stmt)})
    return out


def delete_curated(session: Session, clip_pks: Sequence[int]) -> None:
    if clip_pks:
        session.execute(delete(CuratedLabel).where(CuratedLabel.clip_id.in_(list(clip_pks))))


def insert_curated(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        now = utcnow()
        session.execute(insert(CuratedLabel), [{**r, "decided_at": now} for r in rows])


@dataclass(frozen=True)
class CuratedRow:
    clip_pk: int
    clip_id: str
    split: str | None
    segments: str
    category: str | None
    provenance: str
    annotation_ids: list[int]


def curated_rows(session: Session, split: str | None = None) -> list[CuratedRow]:
    stmt = (
        select(
            Clip.id,
            Clip.clip_id,
            Clip.split,
            CuratedLabel.segments,
            Category.name,
            CuratedLabel.provenance,
            CuratedLabel.annotation_ids,
        )
        .join(Clip, CuratedLabel.clip_id == Clip.id)
        .outerjoin(Category, CuratedLabel.category_id == Category.id)
        .order_by(Clip.id)
    )
    if split:
        stmt = stmt.where(Clip.split == split)
    return [CuratedRow(*r[:6], json.loads(r[6])) for r in session.execute(stmt)]


def predictions_by_version(
    session: Session, clip_pks: Iterable[int]
) -> dict[str, dict[int, tuple[str, str | None]]]:
    """``model version name -> clip pk -> (segments, category)`` for the given clips."""
    wanted = list(clip_pks)
    out: dict[str, dict[int, tuple[str, str | None]]] = defaultdict(dict)
    for i in range(0, len(wanted), 500):
        stmt = (
            select(ModelVersion.name, Prediction.clip_id, Prediction.segments, Category.name)
            .join(ModelVersion, Prediction.model_version_id == ModelVersion.id)
            .outerjoin(Category, Prediction.category_id == Category.id)
            .where(Prediction.clip_id.in_(wanted[i : i + 500]))
        )
        for name, clip_pk, segments, category in session.execute(stmt):
            out[name][clip_pk] = (segments, category)
    return dict(out)
