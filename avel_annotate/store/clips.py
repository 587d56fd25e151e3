"""Queries over clips, categories, list events and splits. Callers own the transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from avel_annotate.domain.vocab import ClipStatus
from avel_annotate.store.tables import (
    Annotation,
    Category,
    Clip,
    CuratedLabel,
    ListEvent,
    SplitAssignment,
    utcnow,
)


@dataclass(frozen=True)
class StoredClipKey:
    id: int
    clip_id: str
    ytid: str
    start_s: int
    category: str | None
    split: str | None
    split_source: str | None
    list_segments: str | None
    source_file: str
    source_line: int
    source_format: str


def category_names(session: Session) -> list[str]:
    """All category names in class-index order (id order: first appearance in the clip lists).

    The one category order of the toolkit: model heads, exports and label configs use it.
    """
    return list(session.scalars(select(Category.name).order_by(Category.id)))


def category_ids(session: Session) -> dict[str, int]:
    return {name: cid for cid, name in session.execute(select(Category.id, Category.name))}


def ensure_categories(session: Session, names: Iterable[str]) -> dict[str, int]:
    """Create missing categories in the order given (first appearance); return name -> id."""
    known = category_ids(session)
    missing = [n for n in dict.fromkeys(names) if n not in known]
    if missing:
        now = utcnow()
        for name in missing:  # one by one, so ids follow the order on every backend
            session.execute(insert(Category).values(name=name, created_at=now))
        known = category_ids(session)
    return known


def stored_clip_keys(session: Session) -> dict[tuple[str, int], StoredClipKey]:
    stmt = select(
        Clip.id,
        Clip.clip_id,
        Clip.ytid,
        Clip.start_s,
        Category.name,
        Clip.split,
        Clip.split_source,
        Clip.list_segments,
        Clip.source_file,
        Clip.source_line,
        Clip.source_format,
    ).outerjoin(Category, Clip.category_id == Category.id)
    return {(r[2], r[3]): StoredClipKey(*r) for r in session.execute(stmt)}


def insert_clips(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    now = utcnow()
    defaults = {
        "status": ClipStatus.PENDING,
        "attempts": 0,
        "is_short": False,
        "created_at": now,
        "updated_at": now,
    }
    session.execute(insert(Clip), [{**defaults, **r} for r in rows])


def clip_pk_map(session: Session, clip_ids: Iterable[str] | None = None) -> dict[str, int]:
    stmt = select(Clip.clip_id, Clip.id)
    if clip_ids is not None:
        wanted = set(clip_ids)
        return {c: i for c, i in session.execute(stmt) if c in wanted}
    return dict(session.execute(stmt).all())


def update_clip_fields(session: Session, updates: Sequence[dict[str, Any]]) -> None:
    """Bulk update by primary key: each dict has ``id`` plus the columns to set."""
    for values in updates:
        pk = values["id"]
        rest = {k: v for k, v in values.items() if k != "id"}
        session.execute(update(Clip).where(Clip.id == pk).values(**rest, updated_at=utcnow()))


def existing_events(session: Session) -> set[tuple[int, int, int, int]]:
    stmt = select(ListEvent.clip_id, ListEvent.category_id, ListEvent.start_s, ListEvent.end_s)
    return {tuple(r) for r in session.execute(stmt)}  # type: ignore[misc]


def insert_events(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(ListEvent), list(rows))


@dataclass(frozen=True)
class EventRow:
    """One list event (an AVE Annotations row) with its clip."""

    id: int
    clip_pk: int
    clip_id: str
    ytid: str
    category: str
    start_s: int
    end_s: int
    quality: str | None
    source_file: str
    source_line: int
    split: str | None


def event_rows(
    session: Session, clip_pks: Iterable[int] | None = None, source_format: str | None = None
) -> list[EventRow]:
    """List events in list order: by the clip's source file, then the event's line."""
    stmt = (
        select(
            ListEvent.id, Clip.id, Clip.clip_id, Clip.ytid, Category.name, ListEvent.start_s,
            ListEvent.end_s, ListEvent.quality, Clip.source_file, ListEvent.source_line,
            ListEvent.split,
        )
        .join(Clip, ListEvent.clip_id == Clip.id)
        .join(Category, ListEvent.category_id == Category.id)
        .order_by(Clip.source_file, ListEvent.source_line, ListEvent.id)
    )  # fmt: skip
    if source_format is not None:
        stmt = stmt.where(Clip.source_format == source_format)
    rows = [EventRow(*r) for r in session.execute(stmt)]
    if clip_pks is not None:
        wanted = set(clip_pks)
        rows = [r for r in rows if r.clip_pk in wanted]
    return rows


def set_event_splits(session: Session, splits: dict[int, str]) -> None:
    for event_id, split in splits.items():
        session.execute(update(ListEvent).where(ListEvent.id == event_id).values(split=split))


def set_list_splits(session: Session, changes: Sequence[tuple[int, str]]) -> None:
    """Clip splits that come from a list (here: the benchmark's split files)."""
    now = utcnow()
    for pk, split in changes:
        session.execute(
            update(Clip).where(Clip.id == pk).values(split=split, split_source="list",
                                                     updated_at=now)
        )  # fmt: skip
    if changes:
        session.execute(
            insert(SplitAssignment),
            [{"clip_id": pk, "split": split, "source": "list", "created_at": now}
             for pk, split in changes],
        )  # fmt: skip


@dataclass(frozen=True)
class SplitRow:
    id: int
    clip_id: str
    category: str | None
    split: str | None
    split_source: str | None
    annotated: bool


def split_rows(session: Session) -> list[SplitRow]:
    annotated = select(Annotation.clip_id).distinct().scalar_subquery()
    stmt = select(
        Clip.id,
        Clip.clip_id,
        Category.name,
        Clip.split,
        Clip.split_source,
        Clip.id.in_(annotated),
    ).outerjoin(Category, Clip.category_id == Category.id)
    return [SplitRow(*r) for r in session.execute(stmt)]


def set_splits(
    session: Session, changes: Sequence[tuple[int, str]], seed: int, ratios: str
) -> None:
    now = utcnow()
    for pk, split in changes:
        session.execute(
            update(Clip)
            .where(Clip.id == pk)
            .values(split=split, split_source="assigned", updated_at=now)
        )
    if changes:
        session.execute(
            insert(SplitAssignment),
            [
                {
                    "clip_id": pk,
                    "split": split,
                    "source": "assigned",
                    "seed": seed,
                    "ratios": ratios,
                    "created_at": now,
                }
                for pk, split in changes
            ],
        )


COUNTABLE = ("status", "split", "is_short")


def count_by(session: Session, column: str) -> dict[str, int]:
    """Clips counted by one of the ``COUNTABLE`` columns (``None`` as ``-``)."""
    if column not in COUNTABLE:
        raise ValueError(f"clips are not counted by {column!r}; use one of {COUNTABLE}")
    col = getattr(Clip, column)
    stmt = select(col, func.count()).select_from(Clip).group_by(col)
    return {str(k) if k is not None else "-": n for k, n in session.execute(stmt)}


def count_by_category(session: Session) -> dict[str, int]:
    stmt = (
        select(Category.name, func.count(Clip.id))
        .select_from(Clip)
        .outerjoin(Category, Clip.category_id == Category.id)
        .group_by(Category.name)
    )
    return {k or "-": n for k, n in session.execute(stmt)}


def count_curated_by_split(session: Session) -> dict[str, int]:
    stmt = (
        select(Clip.split, func.count(CuratedLabel.id))
        .select_from(CuratedLabel)
        .join(Clip, CuratedLabel.clip_id == Clip.id)
        .group_by(Clip.split)
    )
    return {k or "-": n for k, n in session.execute(stmt)}


def list_clips(
    session: Session,
    *,
    status: str | None = None,
    split: str | None = None,
    limit: int | None = None,
) -> list[tuple[Clip, str | None]]:
    stmt = (
        select(Clip, Category.name)
        .outerjoin(Category, Clip.category_id == Category.id)
        .order_by(Clip.id)
    )
    if status:
        stmt = stmt.where(Clip.status == status)
    if split:
        stmt = stmt.where(Clip.split == split)
    if limit:
        stmt = stmt.limit(limit)
    return [(c, n) for c, n in session.execute(stmt).all()]
