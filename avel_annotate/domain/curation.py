"""The one rule that decides a clip's final labels (what training reads). Pure.

Inputs: the clip's annotations (current state, with round and annotator), whether the clip's
task was drawn for the re-check, and the adjudications recorded for it. Only usable annotations
count: not cancelled (skipped) and not deleted.

1. An adjudication that accepted a usable annotation decides: that annotation's labels,
   provenance ``adjudication`` (the latest decision wins).
2. After a ``third_pass`` decision, a later annotation (after the re-check) by a third
   annotator (neither of the first two) that equals the first pass or the re-check exactly (ten
   labels and category) decides: provenance ``adjudication`` with the two agreeing annotation
   ids. A third opinion that matches neither leaves the clip open. When the first pass and the
   re-check agree after all (the decision was taken on a pair that is gone: a self re-check
   deleted, a real re-check pulled later), rule 4 decides: an agreeing pair is never left
   without curated labels.
3. Not drawn: the first-pass annotation (round 1) alone, provenance ``first_pass``.
4. Drawn: the first pass and the re-check, the first later annotation by a different annotator
   (a second annotation by the first-pass annotator does not count; the clip waits for
   another). They agree only when all ten labels and the category are equal: provenance
   ``agreement``. Otherwise the disagreement is open until adjudicated, and the clip has no
   curated labels. A drawn clip whose re-check has not arrived has none either: it was drawn
   to be checked, so the first pass alone is not trusted.

Anything else (no usable annotation) gives ``None``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

PROVENANCES = ("first_pass", "agreement", "adjudication")


@dataclass(frozen=True)
class AnnotationView:
    id: int
    round: int
    annotator: str
    segments: str
    category_id: int | None
    was_cancelled: bool = False
    deleted: bool = False

    @property
    def usable(self) -> bool:
        return not self.was_cancelled and not self.deleted

    def same_labels(self, other: AnnotationView) -> bool:
        return self.segments == other.segments and self.category_id == other.category_id


@dataclass(frozen=True)
class AdjudicationView:
    id: int
    decision: str  # "accept" | "third_pass"
    accepted_annotation_id: int | None = None


@dataclass(frozen=True)
class Curated:
    segments: str
    category_id: int | None
    provenance: str
    annotation_ids: tuple[int, ...]


def recheck_pair(
    annotations: Sequence[AnnotationView],
) -> tuple[AnnotationView | None, AnnotationView | None]:
    """The first pass and the first later annotation by a different annotator (usable only)."""
    usable = sorted((a for a in annotations if a.usable), key=lambda a: (a.round, a.id))
    if not usable:
        return None, None
    first = usable[0]
    for other in usable[1:]:
        if other.annotator != first.annotator:
            return first, other
    return first, None


def curate(
    annotations: Sequence[AnnotationView],
    drawn: bool,
    adjudications: Sequence[AdjudicationView] = (),
) -> Curated | None:
    by_id = {a.id: a for a in annotations if a.usable}
    first, recheck = recheck_pair(annotations)
    if adjudications:
        latest = max(adjudications, key=lambda d: d.id)
        if latest.decision == "accept" and latest.accepted_annotation_id in by_id:
            chosen = by_id[latest.accepted_annotation_id]
            return Curated(chosen.segments, chosen.category_id, "adjudication", (chosen.id,))
        if latest.decision == "third_pass" and first is not None and recheck is not None:
            after = (recheck.round, recheck.id)
            thirds = sorted(
                (
                    a
                    for a in by_id.values()
                    if (a.round, a.id) > after
                    and a.annotator not in (first.annotator, recheck.annotator)
                ),
                key=lambda a: (a.round, a.id),
            )
            for third in thirds:
                for earlier in (first, recheck):
                    if third.same_labels(earlier):
                        ids = tuple(sorted((earlier.id, third.id)))
                        return Curated(third.segments, third.category_id, "adjudication", ids)
            if not first.same_labels(recheck):
                return None
            # the pair the decision was about is gone (a self re-check deleted, a re-check
            # arrived later): the first pass and the re-check now agree, rule 4 decides
    if first is None:
        return None
    if not drawn:
        return Curated(first.segments, first.category_id, "first_pass", (first.id,))
    if recheck is not None and first.same_labels(recheck):
        return Curated(first.segments, first.category_id, "agreement", (first.id, recheck.id))
    return None
