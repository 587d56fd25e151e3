"""Queries over predictions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from avel_annotate.store.tables import Clip, FeatureFile, ModelVersion, Prediction, utcnow


@dataclass(frozen=True)
class PredictCandidate:
    id: int
    clip_id: str
    feature_path: str
    is_random: bool


def clips_to_predict(
    session: Session,
    model_version_id: int,
    extractor: str,
    *,
    split: str | None = None,
    limit: int | None = None,
) -> list[PredictCandidate]:
    done = select(Prediction.clip_id).where(Prediction.model_version_id == model_version_id)
    stmt = (
        select(Clip.id, Clip.clip_id, FeatureFile.path, FeatureFile.is_random)
        .join(FeatureFile, FeatureFile.clip_id == Clip.id)
        .where(FeatureFile.extractor == extractor, Clip.id.not_in(done))
        .order_by(Clip.id)
    )
    if split:
        stmt = stmt.where(Clip.split == split)
    if limit:
        stmt = stmt.limit(limit)
    return [PredictCandidate(*row) for row in session.execute(stmt)]


def insert_predictions(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        now = utcnow()
        session.execute(insert(Prediction), [{**r, "created_at": now} for r in rows])


def prediction_counts(session: Session) -> dict[str, int]:
    stmt = (
        select(ModelVersion.name, func.count(Prediction.id))
        .join(Prediction, Prediction.model_version_id == ModelVersion.id)
        .group_by(ModelVersion.name)
    )
    return {name: n for name, n in session.execute(stmt)}
