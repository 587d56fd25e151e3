"""Label Studio result items <-> ten 0/1 labels and a category. Pure.

A result is a list of items like ``{"from_name": "segments", "to_name": "video", "type":
"choices", "value": {"choices": ["2-3s", ...]}}``. Label Studio leaves an item out when nothing is
ticked, so a missing ``segments`` item means all ten seconds are background, and a missing
``category`` item means no category was chosen. Values that are not in the label config are
rejected (``InvalidResultError``), never guessed.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from avel_annotate.domain.labelconfig import (
    CATEGORY_NAME,
    SEGMENT_VALUES,
    SEGMENTS_NAME,
    VIDEO_NAME,
)
from avel_annotate.domain.segments import EMPTY, N_SEGMENTS, to_list

_INDEX = {value: t for t, value in enumerate(SEGMENT_VALUES)}


class InvalidResultError(ValueError):
    """A result item that does not fit the label config (unknown value, two items, bad shape)."""


@dataclass(frozen=True)
class Labels:
    segments: str  # ten 0/1 characters
    category: str | None


# the role a re-check task carries in its meta (``meta.avel_role``), beside ``avel_not_for``
RECHECK_ROLE = "recheck"
RECHECK_SUFFIX = " (re-check)"  # the re-check project of project ``avel`` is ``avel (re-check)``


def recheck_title(project: str) -> str:
    return f"{project}{RECHECK_SUFFIX}"


def is_recheck_title(title: str) -> bool:
    return title.endswith(RECHECK_SUFFIX)


@dataclass(frozen=True)
class PulledAnnotation:
    """One annotation as Label Studio exported it, checked against the schema and the label
    config (what `annotate pull` compares with the store; times are naive UTC)."""

    ls_id: int
    labels: Labels
    was_cancelled: bool
    ground_truth: bool
    annotator_ls_id: int | None
    lead_time_s: float | None
    created_at: datetime | None
    updated_at: datetime | None


@dataclass(frozen=True)
class PulledTask:
    """One exported task: its annotations in creation order, without the re-check
    placeholders (``placeholders`` counts them: they are never stored)."""

    ls_task_id: int
    annotations: tuple[PulledAnnotation, ...]
    placeholders: int = 0


def is_placeholder(meta: Any, was_cancelled: bool, has_result: bool, user_id: int | None) -> bool:
    """A skipped, empty annotation that a re-check dispatch imported for a first annotator (so
    the stream never serves them their own re-check): never a label."""
    meta = meta if isinstance(meta, dict) else {}
    if meta.get("avel_role") != RECHECK_ROLE or not was_cancelled or has_result:
        return False
    return user_id is not None and user_id in (meta.get("avel_not_for") or [])


def annotator_name(user_id: int | None, users: dict[int, str]) -> str:
    """How an annotation's author is stored: the server's name for them, else ``user:ID``."""
    return users.get(user_id, f"user:{user_id}") if user_id else "unknown"


def _choices(item: dict[str, Any]) -> list[str]:
    value = item.get("value")
    choices = value.get("choices") if isinstance(value, dict) else None
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
        raise InvalidResultError(f"{item.get('from_name')!r} item has no list of choices")
    return choices


def result_to_labels(result: Sequence[dict[str, Any]], categories: Collection[str]) -> Labels:
    """Ten labels and a category from a result; other controls' items are ignored."""
    bits = [0] * N_SEGMENTS
    category: str | None = None
    seen: set[str] = set()
    for item in result:
        name = item.get("from_name")
        if name not in (SEGMENTS_NAME, CATEGORY_NAME):
            continue
        if item.get("type") != "choices":
            raise InvalidResultError(f"{name!r} item has type {item.get('type')!r}, not choices")
        if name in seen:
            raise InvalidResultError(f"two {name!r} items in one result")
        seen.add(name)
        choices = _choices(item)
        if name == SEGMENTS_NAME:
            for choice in choices:
                if choice not in _INDEX:
                    raise InvalidResultError(f"unknown segment value {choice!r}")
                bits[_INDEX[choice]] = 1
        else:
            if len(choices) > 1:
                raise InvalidResultError(f"{len(choices)} categories chosen, expected one")
            if choices:
                if choices[0] not in categories:
                    raise InvalidResultError(f"unknown category {choices[0]!r}")
                category = choices[0]
    return Labels("".join(map(str, bits)), category)


def labels_to_result(
    segments: str, category: str | None, *, score: float | None = None
) -> list[dict[str, Any]]:
    """The result items for ten labels and a category (no item for nothing ticked)."""
    bits = to_list(segments)
    items: list[dict[str, Any]] = []
    ticked = [SEGMENT_VALUES[t] for t, b in enumerate(bits) if b]
    if ticked:
        items.append(_item(SEGMENTS_NAME, ticked, score))
    if category is not None:
        items.append(_item(CATEGORY_NAME, [category], score))
    return items


def _item(name: str, choices: list[str], score: float | None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "from_name": name,
        "to_name": VIDEO_NAME,
        "type": "choices",
        "value": {"choices": choices},
    }
    if score is not None:
        item["score"] = score
    return item


def assign_rounds(annotations: Sequence[tuple[int, bool]]) -> list[int]:
    """Round of each of a task's annotations, given ``(id, was_cancelled)`` in creation order.

    Round = 1 + the number of earlier annotations that were not cancelled: 1 is the first pass,
    2 the re-check of a drawn task, 3 and later the adjudication passes. A skip does not use up a
    round; it is recorded with the round it would have filled.
    """
    rounds: list[int] = []
    done = 0
    for _id, cancelled in annotations:
        rounds.append(done + 1)
        if not cancelled:
            done += 1
    return rounds


__all__ = [
    "EMPTY",
    "RECHECK_ROLE",
    "RECHECK_SUFFIX",
    "InvalidResultError",
    "Labels",
    "PulledAnnotation",
    "PulledTask",
    "annotator_name",
    "assign_rounds",
    "is_placeholder",
    "is_recheck_title",
    "labels_to_result",
    "recheck_title",
    "result_to_labels",
]
