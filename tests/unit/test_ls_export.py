"""The Label Studio export adapter: raw export dicts -> typed, validated records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from avel_annotate.domain.ls_results import labels_to_result
from avel_annotate.labelstudio.export import MalformedAnnotationError, parse_export

CATS = {"dog", "cat"}


def raw(ls_id: int, *, user: Any = 3, created: str = "2026-01-01T10:00:00Z", **kw: Any):
    return {
        "id": ls_id,
        "completed_by": user,
        "result": kw.pop("result", labels_to_result("1100000000", "dog")),
        "was_cancelled": kw.pop("was_cancelled", False),
        "created_at": created,
        "updated_at": kw.pop("updated_at", "2026-01-01T12:30:00+02:00"),
        **kw,
    }


RECHECK_META = {"avel_role": "recheck", "avel_not_for": [3]}
PLACEHOLDER = raw(9, result=[], was_cancelled=True)


@pytest.mark.parametrize(
    ("tasks", "wanted", "expected"),
    [
        ([], {1}, ([], 0)),
        ([{"id": 1, "annotations": [raw(5)]}], {1}, ([(1, [5], 0)], 0)),
        ([{"id": 1, "annotations": [raw(5)]}, {"id": 2}], {1}, ([(1, [5], 0)], 1)),
        (
            [{"id": 1, "annotations": [raw(6, created="2026-01-02"), raw(5)]}],
            {1},
            ([(1, [5, 6], 0)], 0),
        ),
        (
            [{"id": 1, "meta": RECHECK_META, "annotations": [PLACEHOLDER, raw(5, user=4)]}],
            {1},
            ([(1, [5], 1)], 0),
        ),
        (  # the same skip outside a re-check task is a first annotator's skip
            [{"id": 1, "annotations": [PLACEHOLDER]}],
            {1},
            ([(1, [9], 0)], 0),
        ),
        (  # a task not wanted is never read, even when malformed
            [{"id": 2, "annotations": [raw(5, result=[{"from_name": "segments"}])]}],
            {1},
            ([], 1),
        ),
    ],
    ids=["empty", "one", "not ours", "creation order", "placeholder", "plain skip", "unread"],
)
def test_parse_export(tasks, wanted, expected):
    parsed = parse_export(tasks, CATS, wanted)
    got = [(t.ls_task_id, [a.ls_id for a in t.annotations], t.placeholders) for t in parsed.tasks]
    assert (got, parsed.skipped) == expected


def test_record_fields_are_typed_and_times_naive_utc():
    (t,) = parse_export(
        [{"id": 1, "annotations": [raw(5, user={"id": 8}, lead_time=2.5, ground_truth=True)]}],
        CATS,
        {1},
    ).tasks
    (a,) = t.annotations
    assert (a.labels.segments, a.labels.category) == ("1100000000", "dog")
    assert (a.annotator_ls_id, a.lead_time_s, a.ground_truth, a.was_cancelled) == (
        8,
        2.5,
        True,
        False,
    )
    assert a.created_at == datetime(2026, 1, 1, 10, 0)
    assert a.updated_at == datetime(2026, 1, 1, 10, 30)


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        (raw(5, result=labels_to_result("1100000000", "horse")), "unknown category 'horse'"),
        ({"id": 5, "result": []}, "required property"),
        (raw(5, was_cancelled="no"), "was_cancelled"),
    ],
    ids=["unknown category", "missing fields", "wrong type"],
)
def test_a_malformed_annotation_is_one_line_naming_task_and_annotation(bad, needle):
    with pytest.raises(MalformedAnnotationError) as info:
        parse_export([{"id": 1, "annotations": [bad]}], CATS, {1})
    line = info.value.one_line()
    assert "annotation 5 of task 1 is malformed" in line and needle in line
    assert "nothing was stored" in line and "\n" not in line
