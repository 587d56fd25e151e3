"""What a pull changes: pulled annotations against the stored ones of one project. Pure.

Each Label Studio annotation is one store row, keyed by its Label Studio id. A pulled annotation
the store lacks is new; one whose tracked values differ (or that was marked deleted) is edited;
a stored one the export no longer holds is deleted. Pulling the same export twice changes
nothing. The service stores the diff (rows and one revision per change).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from avel_annotate.domain.ls_results import PulledTask, assign_rounds


@dataclass(frozen=True)
class Tracked:
    """The values of an annotation whose change makes a revision."""

    segments: str
    category_id: int | None
    was_cancelled: bool
    round: int
    ground_truth: bool
    ls_updated_at: datetime | None


@dataclass(frozen=True)
class StoredAnnotation:
    pk: int
    ls_id: int
    clip_pk: int
    values: Tracked
    deleted: bool = False


@dataclass(frozen=True)
class NewAnnotation:
    task_pk: int
    clip_pk: int
    ls_id: int
    values: Tracked
    annotator_ls_id: int | None
    lead_time_s: float | None
    ls_created_at: datetime | None


@dataclass(frozen=True)
class EditedAnnotation:
    pk: int
    clip_pk: int
    values: Tracked
    lead_time_s: float | None


@dataclass(frozen=True)
class KnownTask:
    """A pulled task the store knows: its task and clip pks."""

    task_pk: int
    clip_pk: int
    task: PulledTask


@dataclass(frozen=True)
class AnnotationDiff:
    new: tuple[NewAnnotation, ...] = ()
    edited: tuple[EditedAnnotation, ...] = ()
    deleted: tuple[StoredAnnotation, ...] = ()
    annotations: int = 0  # pulled annotations compared (placeholders excluded)
    cancelled: int = 0  # of those, skipped by their annotator

    @property
    def affected_clips(self) -> set[int]:
        """Clips whose curated label may change."""
        return {
            *(n.clip_pk for n in self.new),
            *(e.clip_pk for e in self.edited),
            *(d.clip_pk for d in self.deleted),
        }


def diff_annotations(
    tasks: Sequence[KnownTask],
    stored: Sequence[StoredAnnotation],
    category_ids: Mapping[str, int],
    round_base: int = 0,
) -> AnnotationDiff:
    """New, edited and deleted annotations of one project (rounds start at ``1 +
    round_base``: the re-check project's annotations are round 2 and later)."""
    existing = {s.ls_id: s for s in stored}
    seen: set[int] = set()
    new: list[NewAnnotation] = []
    edited: list[EditedAnnotation] = []
    n_annotations = cancelled = 0
    for known in tasks:
        anns = known.task.annotations
        rounds = assign_rounds([(a.ls_id, a.was_cancelled) for a in anns])
        for ann, rnd in zip(anns, rounds, strict=True):
            n_annotations += 1
            cancelled += int(ann.was_cancelled)
            seen.add(ann.ls_id)
            category = ann.labels.category
            values = Tracked(
                segments=ann.labels.segments,
                category_id=category_ids[category] if category else None,
                was_cancelled=ann.was_cancelled,
                round=rnd + round_base,
                ground_truth=ann.ground_truth,
                ls_updated_at=ann.updated_at,
            )
            old = existing.get(ann.ls_id)
            if old is None:
                new.append(
                    NewAnnotation(
                        known.task_pk,
                        known.clip_pk,
                        ann.ls_id,
                        values,
                        ann.annotator_ls_id,
                        ann.lead_time_s,
                        ann.created_at,
                    )
                )
            elif old.deleted or old.values != values:
                edited.append(EditedAnnotation(old.pk, known.clip_pk, values, ann.lead_time_s))
    deleted = tuple(s for s in existing.values() if s.ls_id not in seen and not s.deleted)
    return AnnotationDiff(tuple(new), tuple(edited), deleted, n_annotations, cancelled)
