"""Queries over feature files."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from avel_annotate.domain.vocab import ClipStatus
from avel_annotate.store.tables import Clip, FeatureFile, utcnow


@dataclass(frozen=True)
class ClipMedia:
    id: int
    clip_id: str
    media_path: str
    wav_path: str


def clips_needing_features(
    session: Session,
    extractor: str,
    *,
    split: str | None = None,
    limit: int | None = None,
    force: bool = False,
) -> list[ClipMedia]:
    have = select(FeatureFile.clip_id).where(FeatureFile.extractor == extractor)
    stmt = select(Clip.id, Clip.clip_id, Clip.media_path, Clip.wav_path).where(
        Clip.status == ClipStatus.FETCHED, Clip.media_path.is_not(None), Clip.wav_path.is_not(None)
    )
    if not force:
        stmt = stmt.where(Clip.id.not_in(have))
    if split:
        stmt = stmt.where(Clip.split == split)
    stmt = stmt.order_by(Clip.id)
    if limit:
        stmt = stmt.limit(limit)
    return [ClipMedia(pk, cid, str(mp4), str(wav)) for pk, cid, mp4, wav in session.execute(stmt)]


def record_feature_file(
    session: Session,
    clip_pk: int,
    *,
    extractor: str,
    path: str,
    dtype: str,
    is_random: bool,
    weights_sha256: str,
    provenance: str,
    sha256: str | None,
) -> None:
    """Insert or replace the row of (clip, extractor)."""
    session.execute(
        delete(FeatureFile).where(
            FeatureFile.clip_id == clip_pk, FeatureFile.extractor == extractor
        )
    )
    session.add(
        FeatureFile(
            clip_id=clip_pk,
            extractor=extractor,
            path=path,
            dtype=dtype,
            is_random=is_random,
            weights_sha256=weights_sha256,
            provenance=provenance,
            sha256=sha256,
            created_at=utcnow(),
        )
    )


def feature_counts(session: Session) -> dict[str, int]:
    stmt = select(FeatureFile.extractor, func.count()).group_by(FeatureFile.extractor)
    return {name: n for name, n in session.execute(stmt)}
