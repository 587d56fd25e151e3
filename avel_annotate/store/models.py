"""Queries over model versions, predictions and the training data the store can provide."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from avel_annotate.store.tables import (
    Category,
    Clip,
    CuratedLabel,
    FeatureFile,
    ModelVersion,
    utcnow,
)


def get_version(session: Session, name: str) -> ModelVersion | None:
    return session.scalars(select(ModelVersion).where(ModelVersion.name == name)).first()


def default_version(session: Session) -> ModelVersion | None:
    return session.scalars(
        select(ModelVersion).where(ModelVersion.is_default.is_(True)).order_by(ModelVersion.id)
    ).first()


def all_versions(session: Session) -> list[ModelVersion]:
    return list(session.scalars(select(ModelVersion).order_by(ModelVersion.id)))


def add_version(session: Session, *, make_default: bool, **values: Any) -> ModelVersion:
    if make_default:
        session.execute(update(ModelVersion).values(is_default=False))
    version = ModelVersion(is_default=make_default, created_at=utcnow(), **values)
    session.add(version)
    session.flush()
    return version


def set_default(session: Session, version: ModelVersion) -> None:
    session.execute(update(ModelVersion).values(is_default=False))
    version.is_default = True


def feature_kinds(session: Session) -> list[str]:
    """The feature kinds (extractor names) that have files in the store, sorted."""
    return sorted(set(session.scalars(select(FeatureFile.extractor).distinct())))


def set_metrics(session: Session, version: ModelVersion, key: str, metrics: dict[str, Any]) -> None:
    current = json.loads(version.metrics or "{}")
    current[key] = metrics
    version.metrics = json.dumps(current)


@dataclass(frozen=True)
class LabelledFeatures:
    clip_id: str
    feature_path: str
    is_random: bool
    segments: str
    category: str | None
    label_source: str


def labelled_features(
    session: Session, split: str, extractor: str, labels: str = "curated"
) -> list[LabelledFeatures]:
    """Clips of ``split`` with a feature file of ``extractor`` and labels.

    ``labels="curated"`` reads CuratedLabel rows (the outcome of annotation and QC);
    ``labels="list"`` reads the labels that came with the clip list (AVE, AVEL100k).
    """
    stmt: Any  # two shapes of select; rows are read positionally below
    if labels == "curated":
        stmt = (
            select(
                Clip.clip_id,
                FeatureFile.path,
                FeatureFile.is_random,
                CuratedLabel.segments,
                Category.name,
                CuratedLabel.provenance,
            )
            .join(CuratedLabel, CuratedLabel.clip_id == Clip.id)
            .join(FeatureFile, FeatureFile.clip_id == Clip.id)
            .outerjoin(Category, CuratedLabel.category_id == Category.id)
        )
    else:
        stmt = (
            select(
                Clip.clip_id,
                FeatureFile.path,
                FeatureFile.is_random,
                Clip.list_segments,
                Category.name,
                Clip.source_format,
            )
            .join(FeatureFile, FeatureFile.clip_id == Clip.id)
            .outerjoin(Category, Clip.category_id == Category.id)
            .where(Clip.list_segments.is_not(None))
        )
    stmt = stmt.where(Clip.split == split, FeatureFile.extractor == extractor).order_by(Clip.id)
    return [LabelledFeatures(*row) for row in session.execute(stmt)]
