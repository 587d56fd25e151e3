"""Label Studio's JSON export -> typed, validated annotation records (``domain.ls_results``).

Every annotation of a task the caller asks for is checked against ``schema/annotation.schema
.json`` and the label config's values; one that does not fit stops the pull with a one-line
error naming the task and the annotation, before anything is stored (skipping it would make it
look deleted on the next comparison and drop the curated label it supports). Re-check
placeholders are dropped here and counted.
"""

from __future__ import annotations

from collections.abc import Collection, Container, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from avel_annotate.domain.ls_results import (
    InvalidResultError,
    Labels,
    PulledAnnotation,
    PulledTask,
    is_placeholder,
    result_to_labels,
)
from avel_annotate.errors import LabelStudioError
from avel_annotate.labelstudio.client import schema_problem

MALFORMED_HINT = (
    "fix or delete that annotation in Label Studio, then pull again; nothing was stored"
)


class MalformedAnnotationError(LabelStudioError):
    """An annotation on the server that does not fit the schema or the label config."""


@dataclass(frozen=True)
class ParsedExport:
    tasks: tuple[PulledTask, ...]  # the wanted tasks, in export order
    skipped: int  # tasks the caller did not ask for (not this store's)


def ls_time(value: Any) -> datetime | None:
    """A Label Studio timestamp as naive UTC (how the store keeps times)."""
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def user_id(value: Any) -> int | None:
    """``completed_by`` as an id (the export gives an id or a user object)."""
    if isinstance(value, dict):
        value = value.get("id")
    return int(value) if isinstance(value, int) else None


def _labels(ann: dict[str, Any], task_id: Any, categories: Collection[str]) -> Labels:
    problem = schema_problem("annotation", ann)
    if problem is None:
        try:
            return result_to_labels(ann["result"], categories)
        except InvalidResultError as e:
            problem = str(e)
    raise MalformedAnnotationError(
        f"annotation {ann.get('id')} of task {task_id} is malformed: {problem}", MALFORMED_HINT
    )


def annotation_record(
    ann: dict[str, Any], task_id: Any, categories: Collection[str]
) -> PulledAnnotation:
    """One exported annotation, validated, as a record."""
    labels = _labels(ann, task_id, categories)
    return PulledAnnotation(
        ls_id=int(ann["id"]),
        labels=labels,
        was_cancelled=bool(ann["was_cancelled"]),
        ground_truth=bool(ann.get("ground_truth")),
        annotator_ls_id=user_id(ann["completed_by"]),
        lead_time_s=ann.get("lead_time"),
        created_at=ls_time(ann.get("created_at")),
        updated_at=ls_time(ann.get("updated_at")),
    )


def task_record(task: dict[str, Any], categories: Collection[str]) -> PulledTask:
    """One exported task: its annotations in creation order, placeholders dropped."""
    anns = sorted(
        task.get("annotations") or [],
        key=lambda a: (a.get("created_at") or "", a.get("id", 0)),
    )
    meta = task.get("meta")
    kept = [
        a
        for a in anns
        if not is_placeholder(
            meta,
            bool(a.get("was_cancelled")),
            bool(a.get("result")),
            user_id(a.get("completed_by")),
        )
    ]
    records = tuple(annotation_record(a, task.get("id"), categories) for a in kept)
    return PulledTask(int(task["id"]), records, len(anns) - len(kept))


def parse_export(
    exported: Sequence[dict[str, Any]], categories: Collection[str], wanted: Container[int]
) -> ParsedExport:
    """The records of the exported tasks whose Label Studio id is in ``wanted`` (the others
    are not this store's tasks: counted, never read)."""
    tasks: list[PulledTask] = []
    skipped = 0
    for task in exported:
        if int(task.get("id", -1)) in wanted:
            tasks.append(task_record(task, categories))
        else:
            skipped += 1
    return ParsedExport(tuple(tasks), skipped)
