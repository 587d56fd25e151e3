"""Queries for exports: labelled clips from the list, and feature paths by clip."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from avel_annotate.store.annotations import CuratedRow
from avel_annotate.store.tables import Category, Clip, FeatureFile


def list_label_rows(session: Session, split: str | None = None) -> list[CuratedRow]:
    """Clips whose list carried per-second labels, shaped like curated rows."""
    stmt = (
        select(Clip.id, Clip.clip_id, Clip.split, Clip.list_segments, Category.name)
        .outerjoin(Category, Clip.category_id == Category.id)
        .where(Clip.list_segments.is_not(None))
        .order_by(Clip.id)
    )
    if split:
        stmt = stmt.where(Clip.split == split)
    return [
        CuratedRow(pk, clip_id, split, segments or "", category, "list", [])
        for pk, clip_id, split, segments, category in session.execute(stmt)
    ]


def feature_paths(session: Session, clip_pks: Iterable[int], extractor: str) -> dict[int, str]:
    wanted = list(clip_pks)
    out: dict[int, str] = {}
    for i in range(0, len(wanted), 500):
        stmt = select(FeatureFile.clip_id, FeatureFile.path).where(
            FeatureFile.extractor == extractor, FeatureFile.clip_id.in_(wanted[i : i + 500])
        )
        out.update({pk: path for pk, path in session.execute(stmt)})
    return out
