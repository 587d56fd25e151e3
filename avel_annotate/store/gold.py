"""Queries over gold labels, gold task copies and their answers. Callers own the transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session, aliased

from avel_annotate.store.annotations import PushCandidate
from avel_annotate.store.tables import (
    Annotation,
    Category,
    Clip,
    CuratedLabel,
    GoldAnswer,
    GoldLabel,
    GoldTask,
    LsTask,
    Prediction,
    QcDraw,
    utcnow,
)

# -- gold labels --------------------------------------------------------------------------------


def gold_labels(session: Session, clip_pks: Iterable[int] | None = None) -> dict[int, GoldLabel]:
    """``clip pk -> gold label`` of the given clips (all gold clips when None)."""
    if clip_pks is None:
        return {g.clip_id: g for g in session.scalars(select(GoldLabel))}
    wanted = sorted(set(clip_pks))
    out: dict[int, GoldLabel] = {}
    for i in range(0, len(wanted), 500):
        stmt = select(GoldLabel).where(GoldLabel.clip_id.in_(wanted[i : i + 500]))
        out.update({g.clip_id: g for g in session.scalars(stmt)})
    return out


def add_gold(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        now = utcnow()
        session.execute(insert(GoldLabel), [{**r, "created_at": now} for r in rows])


def remove_gold(session: Session, clip_pks: Sequence[int]) -> None:
    if clip_pks:
        session.execute(delete(GoldLabel).where(GoldLabel.clip_id.in_(list(clip_pks))))


@dataclass(frozen=True)
class GoldListRow:
    clip_id: str
    split: str | None
    segments: str
    category: str | None
    source: str
    source_ref: str
    added_by: str
    created_at: datetime
    task_copies: int
    answers: int


def gold_list(session: Session) -> list[GoldListRow]:
    copies = (
        select(GoldTask.clip_id, func.count(GoldTask.id).label("n"))
        .where(GoldTask.ls_task_id.is_not(None))
        .group_by(GoldTask.clip_id)
        .subquery()
    )
    answers = (
        select(GoldTask.clip_id, func.count(GoldAnswer.id).label("n"))
        .join(GoldAnswer, GoldAnswer.gold_task_id == GoldTask.id)
        .where(GoldAnswer.deleted_at.is_(None), GoldAnswer.was_cancelled.is_(False))
        .group_by(GoldTask.clip_id)
        .subquery()
    )
    stmt = (
        select(
            Clip.clip_id,
            Clip.split,
            GoldLabel.segments,
            Category.name,
            GoldLabel.source,
            GoldLabel.source_ref,
            GoldLabel.added_by,
            GoldLabel.created_at,
            func.coalesce(copies.c.n, 0),
            func.coalesce(answers.c.n, 0),
        )
        .join(Clip, GoldLabel.clip_id == Clip.id)
        .outerjoin(Category, GoldLabel.category_id == Category.id)
        .outerjoin(copies, copies.c.clip_id == GoldLabel.clip_id)
        .outerjoin(answers, answers.c.clip_id == GoldLabel.clip_id)
        .order_by(Clip.id)
    )
    return [GoldListRow(*r) for r in session.execute(stmt)]


# -- gold task copies ---------------------------------------------------------------------------


def copy_counts(session: Session, project_pk: int) -> dict[int, int]:
    """``gold clip pk -> task copies in the project`` for every gold clip with media."""
    n = (
        select(GoldTask.clip_id, func.count(GoldTask.id).label("n"))
        .where(GoldTask.project_id == project_pk)
        .group_by(GoldTask.clip_id)
        .subquery()
    )
    stmt = (
        select(GoldLabel.clip_id, func.coalesce(n.c.n, 0))
        .join(Clip, GoldLabel.clip_id == Clip.id)
        .outerjoin(n, n.c.clip_id == GoldLabel.clip_id)
        .where(Clip.status == "fetched", Clip.media_path.is_not(None))
    )
    return {r[0]: int(r[1]) for r in session.execute(stmt)}


def gold_candidates(session: Session, clip_pks: Iterable[int]) -> dict[int, PushCandidate]:
    stmt = (
        select(Clip.id, Clip.clip_id, Clip.media_path, Category.name)
        .outerjoin(Category, Clip.category_id == Category.id)
        .where(Clip.id.in_(list(clip_pks)))
    )
    return {r[0]: PushCandidate(r[0], r[1], str(r[2]), r[3]) for r in session.execute(stmt)}


def gold_tasks_of(session: Session, project_pk: int) -> dict[int, tuple[int, int]]:
    """``ls_task_id -> (gold task pk, clip pk)`` of the project's gold copies."""
    stmt = select(GoldTask.ls_task_id, GoldTask.id, GoldTask.clip_id).where(
        GoldTask.project_id == project_pk, GoldTask.ls_task_id.is_not(None)
    )
    return {r[0]: (r[1], r[2]) for r in session.execute(stmt) if r[0] is not None}


def pending_copies(session: Session, project_pk: int) -> list[tuple[int, int]]:
    """``(gold task pk, clip pk)`` of copies whose push has not recorded a task id."""
    stmt = (
        select(GoldTask.id, GoldTask.clip_id)
        .where(GoldTask.project_id == project_pk, GoldTask.ls_task_id.is_(None))
        .order_by(GoldTask.id)
    )
    return [(r[0], r[1]) for r in session.execute(stmt)]


def add_pending(
    session: Session, project_pk: int, rows: Sequence[tuple[int, int | None]]
) -> list[int]:
    """Record ``(clip pk, model version pk)`` copies about to be imported; their pks in order."""
    if not rows:
        return []
    now = utcnow()
    stmt = insert(GoldTask).returning(GoldTask.id, sort_by_parameter_order=True)
    params = [
        {"project_id": project_pk, "clip_id": c, "model_version_id": m, "pushed_at": now}
        for c, m in rows
    ]
    return list(session.scalars(stmt, params))


def set_task_ids(session: Session, pairs: Sequence[tuple[int, int]]) -> None:
    for pk, ls_task_id in pairs:
        session.execute(update(GoldTask).where(GoldTask.id == pk).values(ls_task_id=ls_task_id))


def forget_copies(session: Session, pks: Sequence[int]) -> None:
    if pks:
        session.execute(delete(GoldTask).where(GoldTask.id.in_(list(pks))))


# -- answers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredAnswer:
    pk: int
    gold_task_id: int
    ls_annotation_id: int
    values: dict[str, Any]  # the columns a pull compares: segments ... ls_updated_at
    deleted: bool


def answers_of(session: Session, project_pk: int) -> list[StoredAnswer]:
    """Every stored answer to the project's gold copies (deleted ones included)."""
    stmt = (
        select(GoldAnswer)
        .join(GoldTask, GoldAnswer.gold_task_id == GoldTask.id)
        .where(GoldTask.project_id == project_pk)
    )
    return [
        StoredAnswer(
            a.id,
            a.gold_task_id,
            a.ls_annotation_id,
            {
                "segments": a.segments,
                "category_id": a.category_id,
                "was_cancelled": a.was_cancelled,
                "lead_time_s": a.lead_time_s,
                "ls_updated_at": a.ls_updated_at,
            },
            a.deleted_at is not None,
        )
        for a in session.scalars(stmt)
    ]


def update_answers(
    session: Session, edits: Sequence[tuple[int, dict[str, Any]]], now: datetime
) -> None:
    """Answers edited on the server (``(pk, new values)``); an answer back from deletion too."""
    for pk, values in edits:
        session.execute(
            update(GoldAnswer)
            .where(GoldAnswer.id == pk)
            .values(**values, deleted_at=None, pulled_at=now)
        )


def mark_answers_deleted(session: Session, pks: Sequence[int], now: datetime) -> None:
    if pks:
        session.execute(
            update(GoldAnswer).where(GoldAnswer.id.in_(list(pks))).values(deleted_at=now)
        )


def insert_answers(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(GoldAnswer), list(rows))


@dataclass(frozen=True)
class AnswerRow:
    annotator: str
    clip_pk: int
    segments: str
    category: str | None
    gold_segments: str
    gold_category: str | None
    model_version_id: int | None


def usable_answers(session: Session) -> list[AnswerRow]:
    """Answers to gold copies (not skipped, not deleted) with the gold label of their clip."""
    answer_cat = aliased(Category)
    gold_cat = aliased(Category)
    stmt = (
        select(
            GoldAnswer.annotator,
            GoldTask.clip_id,
            GoldAnswer.segments,
            answer_cat.name,
            GoldLabel.segments,
            gold_cat.name,
            GoldTask.model_version_id,
        )
        .join(GoldTask, GoldAnswer.gold_task_id == GoldTask.id)
        .join(GoldLabel, GoldLabel.clip_id == GoldTask.clip_id)
        .outerjoin(answer_cat, GoldAnswer.category_id == answer_cat.id)
        .outerjoin(gold_cat, GoldLabel.category_id == gold_cat.id)
        .where(GoldAnswer.deleted_at.is_(None), GoldAnswer.was_cancelled.is_(False))
        .order_by(GoldAnswer.id)
    )
    return [AnswerRow(*r) for r in session.execute(stmt)]


def predictions(
    session: Session, pairs: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], tuple[str, str | None]]:
    """``(clip pk, model version pk) -> (segments, category)`` of the given pairs."""
    wanted = set(pairs)
    clips = sorted({c for c, _ in wanted})
    out: dict[tuple[int, int], tuple[str, str | None]] = {}
    for i in range(0, len(clips), 500):
        stmt = (
            select(
                Prediction.clip_id, Prediction.model_version_id, Prediction.segments, Category.name
            )
            .outerjoin(Category, Prediction.category_id == Category.id)
            .where(Prediction.clip_id.in_(clips[i : i + 500]))
        )
        for clip, mv, segments, category in session.execute(stmt):
            if (clip, mv) in wanted:
                out[(clip, mv)] = (segments, category)
    return out


@dataclass(frozen=True)
class FirstPassRow:
    annotator: str
    clip_pk: int
    segments: str
    category: str | None
    model_version_id: int
    curated_segments: str | None
    curated_category: str | None
    curated_provenance: str | None
    drawn: bool


def prefilled_first_passes(session: Session) -> list[FirstPassRow]:
    """Usable first passes (round 1) of ordinary tasks pushed with a prediction, with the
    clip's curated label and whether the task was drawn for the re-check."""
    ann_cat = aliased(Category)
    cur_cat = aliased(Category)
    drawn = select(QcDraw.task_id).where(QcDraw.selected.is_(True))
    stmt = (
        select(
            Annotation.annotator,
            Annotation.clip_id,
            Annotation.segments,
            ann_cat.name,
            LsTask.model_version_id,
            CuratedLabel.segments,
            cur_cat.name,
            CuratedLabel.provenance,
            LsTask.id.in_(drawn),
        )
        .join(LsTask, Annotation.task_id == LsTask.id)
        .outerjoin(ann_cat, Annotation.category_id == ann_cat.id)
        .outerjoin(CuratedLabel, CuratedLabel.clip_id == Annotation.clip_id)
        .outerjoin(cur_cat, CuratedLabel.category_id == cur_cat.id)
        .where(
            Annotation.round == 1,
            Annotation.deleted_at.is_(None),
            Annotation.was_cancelled.is_(False),
            LsTask.model_version_id.is_not(None),
        )
        .order_by(Annotation.id)
    )
    return [FirstPassRow(*r) for r in session.execute(stmt)]  # type: ignore[arg-type]
