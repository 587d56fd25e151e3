"""Read-only queries behind `avel report`."""

from __future__ import annotations

import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from avel_annotate.store.tables import (
    Annotation,
    Category,
    Clip,
    CuratedLabel,
    FeatureFile,
    LsTask,
    Prediction,
    QcDraw,
)


def category_split_counts(session: Session) -> dict[str, dict[str, int]]:
    """``split -> category -> clips``."""
    stmt = (
        select(Clip.split, Category.name, func.count(Clip.id))
        .outerjoin(Category, Clip.category_id == Category.id)
        .group_by(Clip.split, Category.name)
    )
    out: dict[str, dict[str, int]] = {}
    for split, name, n in session.execute(stmt):
        out.setdefault(split or "unassigned", {})[name or "-"] = n
    return out


def fetch_outcomes(session: Session) -> dict[str, int]:
    stmt = select(Clip.status, Clip.error_class, Clip.is_short, func.count(Clip.id)).group_by(
        Clip.status, Clip.error_class, Clip.is_short
    )
    out: dict[str, int] = {}
    for status, error_class, short, n in session.execute(stmt):
        key = status + (f" ({error_class})" if error_class and status != "fetched" else "")
        key += " (short)" if short else ""
        out[key] = out.get(key, 0) + n
    return out


def timeline_rows(
    session: Session, model_version_id: int, limit: int = 6
) -> list[dict[str, object]]:
    """Clips with a prediction of the version and curated (else list) labels."""
    stmt = (
        select(
            Clip.clip_id,
            Category.name,
            CuratedLabel.segments,
            Clip.list_segments,
            Prediction.event_probs,
        )
        .join(Prediction, Prediction.clip_id == Clip.id)
        .outerjoin(CuratedLabel, CuratedLabel.clip_id == Clip.id)
        .outerjoin(Category, Clip.category_id == Category.id)
        .where(Prediction.model_version_id == model_version_id)
        .where((CuratedLabel.id.is_not(None)) | (Clip.list_segments.is_not(None)))
        .order_by(CuratedLabel.id.is_(None), Clip.id)
        .limit(limit)
    )
    return [
        {
            "clip_id": cid,
            "category": cat,
            "curated": curated or listed,
            "source": "curated" if curated else "list labels",
            "probs": json.loads(probs),
        }
        for cid, cat, curated, listed, probs in session.execute(stmt)
    ]


def annotation_progress(session: Session) -> dict[str, int]:
    """Clips pushed (any project), labelled (a usable first pass), drawn, curated."""
    usable = (Annotation.deleted_at.is_(None)) & (Annotation.was_cancelled.is_(False))
    return {
        "pushed": int(session.scalar(select(func.count(func.distinct(LsTask.clip_id)))) or 0),
        "labelled": int(
            session.scalar(
                select(func.count(func.distinct(Annotation.clip_id))).where(
                    usable & (Annotation.round == 1)
                )
            )
            or 0
        ),
        "drawn": int(
            session.scalar(
                select(func.count(func.distinct(QcDraw.clip_id))).where(QcDraw.selected.is_(True))
            )
            or 0
        ),
        "curated": int(session.scalar(select(func.count(CuratedLabel.clip_id))) or 0),
    }


def random_feature_files(session: Session) -> int:
    return int(
        session.scalar(select(func.count(FeatureFile.id)).where(FeatureFile.is_random.is_(True)))
        or 0
    )
