"""The pull diff (``domain.annotation_diff``): pulled records against stored rows, as a table."""

from __future__ import annotations

from datetime import datetime

import pytest

from avel_annotate.domain.annotation_diff import (
    AnnotationDiff,
    KnownTask,
    StoredAnnotation,
    Tracked,
    diff_annotations,
)
from avel_annotate.domain.ls_results import Labels, PulledAnnotation, PulledTask

CATS = {"dog": 1, "cat": 2}
T0 = datetime(2026, 1, 1, 10, 0)
T1 = datetime(2026, 1, 1, 11, 0)


def ann(
    ls_id: int,
    segments: str = "1100000000",
    category: str | None = "dog",
    *,
    cancelled: bool = False,
    gt: bool = False,
    updated: datetime | None = T0,
    lead: float | None = 2.0,
) -> PulledAnnotation:
    return PulledAnnotation(ls_id, Labels(segments, category), cancelled, gt, 7, lead, T0, updated)


def task(*anns: PulledAnnotation, task_pk: int = 10, clip_pk: int = 100) -> KnownTask:
    return KnownTask(task_pk, clip_pk, PulledTask(500 + task_pk, tuple(anns)))


def stored(
    pk: int,
    ls_id: int,
    segments: str = "1100000000",
    category_id: int | None = 1,
    *,
    rnd: int = 1,
    cancelled: bool = False,
    gt: bool = False,
    updated: datetime | None = T0,
    deleted: bool = False,
    clip_pk: int = 100,
) -> StoredAnnotation:
    return StoredAnnotation(
        pk, ls_id, clip_pk, Tracked(segments, category_id, cancelled, rnd, gt, updated), deleted
    )


def summary(d: AnnotationDiff) -> tuple[list[int], list[int], list[int], int, int]:
    """(new ls ids, edited pks, deleted pks, annotations, cancelled)."""
    return (
        [n.ls_id for n in d.new],
        [e.pk for e in d.edited],
        [s.pk for s in d.deleted],
        d.annotations,
        d.cancelled,
    )


CASES = [
    # (name, tasks, stored, round base, expected summary)
    ("nothing pulled, nothing stored", [], [], 0, ([], [], [], 0, 0)),
    ("a new annotation", [task(ann(1))], [], 0, ([1], [], [], 1, 0)),
    ("pulled again: unchanged", [task(ann(1))], [stored(50, 1)], 0, ([], [], [], 1, 0)),
    (
        "segments edited",
        [task(ann(1, "1110000000", updated=T1))],
        [stored(50, 1)],
        0,
        ([], [50], [], 1, 0),
    ),
    ("category edited", [task(ann(1, category="cat"))], [stored(50, 1)], 0, ([], [50], [], 1, 0)),
    ("category removed", [task(ann(1, category=None))], [stored(50, 1)], 0, ([], [50], [], 1, 0)),
    ("now a skip", [task(ann(1, cancelled=True))], [stored(50, 1)], 0, ([], [50], [], 1, 1)),
    ("accepted as ground truth", [task(ann(1, gt=True))], [stored(50, 1)], 0, ([], [50], [], 1, 0)),
    ("only updated_at moved", [task(ann(1, updated=T1))], [stored(50, 1)], 0, ([], [50], [], 1, 0)),
    (
        "lead time alone is no edit",
        [task(ann(1, lead=9.0))],
        [stored(50, 1)],
        0,
        ([], [], [], 1, 0),
    ),
    ("gone from the server", [task()], [stored(50, 1)], 0, ([], [], [50], 0, 0)),
    (
        "already marked deleted, still gone",
        [],
        [stored(50, 1, deleted=True)],
        0,
        ([], [], [], 0, 0),
    ),
    (
        "back after a deletion",
        [task(ann(1))],
        [stored(50, 1, deleted=True)],
        0,
        ([], [50], [], 1, 0),
    ),
    (
        "a skip keeps the round for the next pass",
        [task(ann(1, cancelled=True), ann(2))],
        [],
        0,
        ([1, 2], [], [], 2, 1),
    ),
    ("re-check project: round 2", [task(ann(3))], [], 1, ([3], [], [], 1, 0)),
    (
        "stored round differs from the pulled order",
        [task(ann(1), ann(2))],
        [stored(50, 1), stored(51, 2, rnd=1)],
        0,
        ([], [51], [], 2, 0),
    ),
    (
        "two tasks: one new, one deleted, one kept",
        [task(ann(1)), task(ann(3), task_pk=11, clip_pk=101)],
        [stored(50, 1), stored(52, 2, clip_pk=102)],
        0,
        ([3], [], [52], 2, 0),
    ),
]


@pytest.mark.parametrize(
    ("tasks", "rows", "base", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_diff(tasks, rows, base, expected):
    assert summary(diff_annotations(tasks, rows, CATS, base)) == expected


def test_new_rows_carry_what_the_store_needs_and_affected_clips():
    d = diff_annotations(
        [task(ann(1, "0011000000", "cat", lead=4.5), ann(2)), task(task_pk=11, clip_pk=101)],
        [stored(60, 9, clip_pk=101)],
        CATS,
        1,
    )
    first, second = d.new
    assert (first.task_pk, first.clip_pk, first.annotator_ls_id) == (10, 100, 7)
    assert first.values == Tracked("0011000000", 2, False, 2, False, T0)
    assert (first.lead_time_s, first.ls_created_at) == (4.5, T0)
    assert second.values.round == 3  # a second usable pass in the re-check task
    assert d.affected_clips == {100, 101}


def test_an_edit_carries_the_new_values_and_lead_time():
    (edit,) = diff_annotations(
        [task(ann(1, "0000000001", None, lead=3.0))], [stored(50, 1)], CATS
    ).edited
    assert edit.values == Tracked("0000000001", None, False, 1, False, T0)
    assert (edit.pk, edit.clip_pk, edit.lead_time_s) == (50, 100, 3.0)
