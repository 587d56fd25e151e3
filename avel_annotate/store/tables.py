"""SQLAlchemy 2 typed tables: the single source of truth of the loop.

Every clip, its fetch state, features, predictions, Label Studio tasks, annotations (with their
history), QC draws, adjudications, curated labels and model versions. The schema changes only
through Alembic revisions in ``migrations/versions``; a test checks that upgrading an empty
database to head yields exactly this metadata.

Conventions: times are naive UTC (``utcnow()``); ten per-second labels are a 10-character string
of ``0``/``1`` (segment t is character t); JSON payloads are TEXT so SQLite and PostgreSQL agree.
Closed vocabularies (clip status, QC decision, annotation change, label source) are the
``StrEnum``s of ``domain/vocab.py``, each with a CHECK constraint (revision 0002).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from avel_annotate.domain.cliplist import MAX_LABEL_LEN, MAX_PATH_LEN, MAX_QUALITY_LEN
from avel_annotate.domain.vocab import (
    AnnotationChange,
    ClipStatus,
    GoldSource,
    LabelSource,
    QcDecision,
    check_sql,
)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CLIP_STATUSES = tuple(s.value for s in ClipStatus)
SPLITS = ("train", "val", "test")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Category(Base):
    __tablename__ = "category"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_LABEL_LEN), unique=True)  # checked at import
    group_name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Clip(Base):
    """One 10-s clip, keyed by ``(ytid, start_s)``; ``clip_id = f"{ytid}_{start_s:06d}"``."""

    __tablename__ = "clip"
    __table_args__ = (
        UniqueConstraint("ytid", "start_s"),
        Index("ix_clip_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_clip_split", "split"),
        CheckConstraint(check_sql("status", ClipStatus), name="status_vocabulary"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clip_id: Mapped[str] = mapped_column(String(32), unique=True)
    ytid: Mapped[str] = mapped_column(String(16))
    start_s: Mapped[int] = mapped_column(Integer)
    source_format: Mapped[str] = mapped_column(String(32))
    source_file: Mapped[str] = mapped_column(String(MAX_PATH_LEN))  # checked at import
    source_line: Mapped[int] = mapped_column(Integer)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    # Ten 0/1 labels that came with the list (AVE, AVEL100k); None when the list has none.
    list_segments: Mapped[str | None] = mapped_column(String(10))
    split: Mapped[str | None] = mapped_column(String(8))
    split_source: Mapped[str | None] = mapped_column(String(16))  # "list" | "assigned"

    # fetch queue
    status: Mapped[str] = mapped_column(String(20), default=ClipStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    error_class: Mapped[str | None] = mapped_column(String(40))
    error_message: Mapped[str | None] = mapped_column(Text)

    # media (paths relative to the data dir)
    media_path: Mapped[str | None] = mapped_column(String(500))
    wav_path: Mapped[str | None] = mapped_column(String(500))
    duration_s: Mapped[float | None] = mapped_column(Float)
    source_duration_s: Mapped[float | None] = mapped_column(Float)
    is_short: Mapped[bool] = mapped_column(Boolean, default=False)
    media_bytes: Mapped[int | None] = mapped_column(BigInteger)
    wav_bytes: Mapped[int | None] = mapped_column(BigInteger)
    media_sha256: Mapped[str | None] = mapped_column(String(64))
    wav_sha256: Mapped[str | None] = mapped_column(String(64))
    fetched_at: Mapped[datetime | None] = mapped_column(DateTime)

    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    category: Mapped[Category | None] = relationship()
    events: Mapped[list[ListEvent]] = relationship(
        back_populates="clip", order_by="ListEvent.source_line"
    )


class ListEvent(Base):
    """An event row of a clip list (AVE: category, start and end second inside the clip)."""

    __tablename__ = "list_event"
    __table_args__ = (UniqueConstraint("clip_id", "category_id", "start_s", "end_s"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clip_id: Mapped[int] = mapped_column(ForeignKey("clip.id", ondelete="CASCADE"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"))
    start_s: Mapped[int] = mapped_column(Integer)
    end_s: Mapped[int] = mapped_column(Integer)
    quality: Mapped[str | None] = mapped_column(String(MAX_QUALITY_LEN))  # checked at import
    source_line: Mapped[int] = mapped_column(Integer)
    # AVE benchmark split of this row (the release splits rows, not videos); revision 0003
    split: Mapped[str | None] = mapped_column(String(8))

    clip: Mapped[Clip] = relationship(back_populates="events")
    category: Mapped[Category] = relationship()


class SplitAssignment(Base):
    """History of split decisions: one row per clip per assignment (list or `avel split assign`)."""

    __tablename__ = "split_assignment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clip_id: Mapped[int] = mapped_column(ForeignKey("clip.id", ondelete="CASCADE"), index=True)
    split: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(16))  # "list" | "assigned"
    seed: Mapped[int | None] = mapped_column(Integer)
    ratios: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class FeatureFile(Base):
    """One clip's feature file for one extractor, with the provenance it was made with."""

    __tablename__ = "feature_file"
    __table_args__ = (UniqueConstraint("clip_id", "extractor"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clip_id: Mapped[int] = mapped_column(ForeignKey("clip.id", ondelete="CASCADE"), index=True)
    extractor: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(500))
    dtype: Mapped[str] = mapped_column(String(16))
    is_random: Mapped[bool] = mapped_column(Boolean, default=False)
    weights_sha256: Mapped[str | None] = mapped_column(String(200))
    provenance: Mapped[str] = mapped_column(Text)  # JSON
    sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ModelVersion(Base):
    """A registered model: trained here, or imported from an official checkpoint."""

    __tablename__ = "model_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    source: Mapped[str] = mapped_column(String(16))  # "trained" | "official"
    variant: Mapped[str | None] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(String(500))  # folder holding config, card, weights
    config: Mapped[str] = mapped_column(Text)  # JSON
    categories: Mapped[str] = mapped_column(Text)  # JSON list of category names, index order
    metrics: Mapped[str | None] = mapped_column(Text)  # JSON
    data_snapshot: Mapped[str | None] = mapped_column(Text)  # JSON: counts of clips used
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("model_version.id"))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Prediction(Base):
    """A model version's output for one clip."""

    __tablename__ = "prediction"
    __table_args__ = (UniqueConstraint("clip_id", "model_version_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clip_id: Mapped[int] = mapped_column(ForeignKey("clip.id", ondelete="CASCADE"), index=True)
    model_version_id: Mapped[int] = mapped_column(
        ForeignKey("model_version.id", ondelete="CASCADE"), index=True
    )
    event_probs: Mapped[str] = mapped_column(Text)  # JSON: ten floats
    category_probs: Mapped[str] = mapped_column(Text)  # JSON: C floats
    segments: Mapped[str] = mapped_column(String(10))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    score: Mapped[float] = mapped_column(Float)  # confidence in [0, 1]
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class LsProject(Base):
    """A Label Studio project the toolkit pushed to."""

    __tablename__ = "ls_project"
    __table_args__ = (UniqueConstraint("ls_url", "ls_project_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ls_url: Mapped[str] = mapped_column(String(300))
    ls_project_id: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    label_config_sha256: Mapped[str] = mapped_column(String(64))
    storage_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class LsTask(Base):
    """A clip pushed as a Label Studio task."""

    __tablename__ = "ls_task"
    __table_args__ = (
        UniqueConstraint("project_id", "clip_id"),
        UniqueConstraint("project_id", "ls_task_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("ls_project.id", ondelete="CASCADE"))
    clip_id: Mapped[int] = mapped_column(ForeignKey("clip.id", ondelete="CASCADE"), index=True)
    ls_task_id: Mapped[int] = mapped_column(Integer)
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_version.id"))
    pushed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Annotation(Base):
    """The current state of one Label Studio annotation (history in AnnotationRevision)."""

    __tablename__ = "annotation"
    __table_args__ = (UniqueConstraint("task_id", "ls_annotation_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("ls_task.id", ondelete="CASCADE"), index=True)
    clip_id: Mapped[int] = mapped_column(ForeignKey("clip.id", ondelete="CASCADE"), index=True)
    ls_annotation_id: Mapped[int] = mapped_column(Integer)
    annotator: Mapped[str] = mapped_column(String(200))  # email, else "user:<id>"
    annotator_ls_id: Mapped[int | None] = mapped_column(Integer)
    round: Mapped[int] = mapped_column(Integer)  # 1 first pass, 2 re-check, 3+ adjudication pass
    segments: Mapped[str] = mapped_column(String(10))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    lead_time_s: Mapped[float | None] = mapped_column(Float)
    was_cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    ground_truth: Mapped[bool] = mapped_column(Boolean, default=False)
    ls_created_at: Mapped[datetime | None] = mapped_column(DateTime)
    ls_updated_at: Mapped[datetime | None] = mapped_column(DateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)
    pulled_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AnnotationRevision(Base):
    """Every state an annotation was seen in: created, updated, deleted."""

    __tablename__ = "annotation_revision"
    __table_args__ = (
        CheckConstraint(check_sql("change", AnnotationChange), name="change_vocabulary"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    annotation_id: Mapped[int] = mapped_column(
        ForeignKey("annotation.id", ondelete="CASCADE"), index=True
    )
    change: Mapped[str] = mapped_column(String(16))  # "created" | "updated" | "deleted"
    segments: Mapped[str] = mapped_column(String(10))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    was_cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    ls_updated_at: Mapped[datetime | None] = mapped_column(DateTime)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class QcDraw(Base):
    """A task considered by a re-check draw; ``selected`` when it was drawn for the re-check.

    Tasks considered but not selected are recorded too, so a later draw takes its fraction of the
    newly labelled tasks only (otherwise each run would re-draw from the left-overs).
    """

    __tablename__ = "qc_draw"
    __table_args__ = (UniqueConstraint("task_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("ls_task.id", ondelete="CASCADE"))
    clip_id: Mapped[int] = mapped_column(ForeignKey("clip.id", ondelete="CASCADE"), index=True)
    selected: Mapped[bool] = mapped_column(Boolean, default=True)
    draw_run: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer)
    fraction: Mapped[float] = mapped_column(Float)
    drawn_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Adjudication(Base):
    """A decision on a disagreement: accept one annotation, or send the clip to a third pass."""

    __tablename__ = "adjudication"
    __table_args__ = (
        CheckConstraint(check_sql("decision", QcDecision), name="decision_vocabulary"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clip_id: Mapped[int] = mapped_column(ForeignKey("clip.id", ondelete="CASCADE"), index=True)
    decision: Mapped[str] = mapped_column(String(16))  # "accept" | "third_pass"
    accepted_annotation_id: Mapped[int | None] = mapped_column(ForeignKey("annotation.id"))
    decided_by: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class CuratedLabel(Base):
    """A clip's final ten labels and category, with where they came from. Training reads these."""

    __tablename__ = "curated_label"
    __table_args__ = (
        UniqueConstraint("clip_id"),
        CheckConstraint(check_sql("provenance", LabelSource), name="provenance_vocabulary"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clip_id: Mapped[int] = mapped_column(ForeignKey("clip.id", ondelete="CASCADE"))
    segments: Mapped[str] = mapped_column(String(10))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    provenance: Mapped[str] = mapped_column(String(32))  # a LabelSource
    annotation_ids: Mapped[str] = mapped_column(Text)  # JSON list
    decided_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# -- gold clips (revision 0004) -------------------------------------------------------------------


class GoldLabel(Base):
    """A clip whose labels are known (an expert pass, or its agreed/adjudicated curated label).

    It is the clip's curated label (provenance ``gold``); copies of the clip are mixed into
    first-pass pushes, unannounced, to measure each annotator against it.
    """

    __tablename__ = "gold_label"
    __table_args__ = (
        UniqueConstraint("clip_id"),
        CheckConstraint(check_sql("source", GoldSource), name="source_vocabulary"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clip_id: Mapped[int] = mapped_column(ForeignKey("clip.id", ondelete="CASCADE"))
    segments: Mapped[str] = mapped_column(String(10))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    source: Mapped[str] = mapped_column(String(16))  # expert | curated
    source_ref: Mapped[str] = mapped_column(String(600))  # "file:line", or the curated provenance
    added_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class GoldTask(Base):
    """One Label Studio task copy of a gold clip in a project (a clip may have many, over time:
    the free edition serves a task to one annotator). ``ls_task_id`` is NULL while the push that
    creates it is in flight; the next push adopts or forgets it."""

    __tablename__ = "gold_task"
    __table_args__ = (UniqueConstraint("project_id", "ls_task_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("ls_project.id", ondelete="CASCADE"))
    clip_id: Mapped[int] = mapped_column(ForeignKey("clip.id", ondelete="CASCADE"), index=True)
    ls_task_id: Mapped[int | None] = mapped_column(Integer)
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_version.id"))
    pushed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class GoldAnswer(Base):
    """An annotation of a gold task copy: compared with the gold label, never a first pass."""

    __tablename__ = "gold_answer"
    __table_args__ = (UniqueConstraint("gold_task_id", "ls_annotation_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    gold_task_id: Mapped[int] = mapped_column(
        ForeignKey("gold_task.id", ondelete="CASCADE"), index=True
    )
    ls_annotation_id: Mapped[int] = mapped_column(Integer)
    annotator: Mapped[str] = mapped_column(String(200))
    annotator_ls_id: Mapped[int | None] = mapped_column(Integer)
    segments: Mapped[str] = mapped_column(String(10))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    was_cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    lead_time_s: Mapped[float | None] = mapped_column(Float)
    ls_created_at: Mapped[datetime | None] = mapped_column(DateTime)
    ls_updated_at: Mapped[datetime | None] = mapped_column(DateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)
    pulled_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
