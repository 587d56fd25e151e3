"""The closed vocabularies stored in the database (each column has a CHECK constraint, 0002).

They are ``StrEnum``s, so a member compares equal to its string and code that writes the plain
strings keeps working; the database refuses anything else.
"""

from __future__ import annotations

from enum import StrEnum


class ClipStatus(StrEnum):
    """``clip.status``: where a clip is in the fetch queue."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    FETCHED = "fetched"
    FAILED_RETRYABLE = "failed_retryable"
    FAILED_PERMANENT = "failed_permanent"
    SKIPPED = "skipped"


class QcDecision(StrEnum):
    """``adjudication.decision``: accept one annotation, or send the clip to a third pass."""

    ACCEPT = "accept"
    THIRD_PASS = "third_pass"


class AnnotationChange(StrEnum):
    """``annotation_revision.change``: the state an annotation was seen in."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


class LabelSource(StrEnum):
    """``curated_label.provenance``: where a clip's final labels came from."""

    FIRST_PASS = "first_pass"
    AGREEMENT = "agreement"
    ADJUDICATION = "adjudication"
    LIST = "list"
    GOLD = "gold"  # revision 0004: the clip's gold label (``avel annotate gold add``)


class GoldSource(StrEnum):
    """``gold_label.source``: how a gold label became known (revision 0004)."""

    EXPERT = "expert"  # a file of an expert pass
    CURATED = "curated"  # the clip's agreed or adjudicated curated label


def check_sql(column: str, vocabulary: type[StrEnum]) -> str:
    """``column IN ('a', 'b', ...)``: the CHECK constraint text of a vocabulary column."""
    values = ", ".join(f"'{v.value}'" for v in vocabulary)
    return f"{column} IN ({values})"


# (table, column, vocabulary, constraint name): the checks migration 0002 adds (0004 widens the
# provenance one by "gold" and adds gold_label.source).
CHECKED_COLUMNS: tuple[tuple[str, str, type[StrEnum], str], ...] = (
    ("clip", "status", ClipStatus, "status_vocabulary"),
    ("adjudication", "decision", QcDecision, "decision_vocabulary"),
    ("annotation_revision", "change", AnnotationChange, "change_vocabulary"),
    ("curated_label", "provenance", LabelSource, "provenance_vocabulary"),
)
