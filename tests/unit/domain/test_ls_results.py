from __future__ import annotations

import pytest

from avel_annotate.domain.ls_results import (
    InvalidResultError,
    assign_rounds,
    labels_to_result,
    result_to_labels,
)

CATS = {"dog", "cat"}


def seg_item(*choices):
    return {
        "from_name": "segments",
        "to_name": "video",
        "type": "choices",
        "value": {"choices": list(choices)},
    }


def cat_item(*choices):
    return {
        "from_name": "category",
        "to_name": "video",
        "type": "choices",
        "value": {"choices": list(choices)},
    }


@pytest.mark.parametrize(
    ("result", "segments", "category"),
    [
        ([], "0000000000", None),  # nothing ticked: the item is absent -> all zero
        ([cat_item("dog")], "0000000000", "dog"),
        ([seg_item("0-1s", "9-10s"), cat_item("cat")], "1000000001", "cat"),
        ([seg_item(*[f"{t}-{t + 1}s" for t in range(10)])], "1111111111", None),
        (
            [seg_item("2-3s"), {"from_name": "notes", "type": "textarea", "value": {}}],
            "0010000000",
            None,
        ),
        ([seg_item()], "0000000000", None),
        ([cat_item()], "0000000000", None),
    ],
)
def test_result_to_labels(result, segments, category):
    got = result_to_labels(result, CATS)
    assert (got.segments, got.category) == (segments, category)


@pytest.mark.parametrize(
    "result",
    [
        [seg_item("10-11s")],
        [seg_item("0-1")],
        [cat_item("horse")],
        [cat_item("dog", "cat")],
        [seg_item("0-1s"), seg_item("1-2s")],
        [{"from_name": "segments", "type": "labels", "value": {"choices": []}}],
        [{"from_name": "segments", "type": "choices", "value": {}}],
    ],
)
def test_invalid_results_rejected(result):
    with pytest.raises(InvalidResultError):
        result_to_labels(result, CATS)


@pytest.mark.parametrize(
    ("segments", "category"),
    [("0000000000", None), ("1000000001", "dog"), ("1111111111", "cat"), ("0110011000", None)],
)
def test_round_trip(segments, category):
    result = labels_to_result(segments, category)
    back = result_to_labels(result, CATS)
    assert (back.segments, back.category) == (segments, category)


def test_empty_segments_give_no_item_and_score_is_carried():
    assert labels_to_result("0000000000", None) == []
    items = labels_to_result("0100000000", "dog", score=0.25)
    assert items[0]["value"]["choices"] == ["1-2s"] and items[0]["score"] == 0.25


def test_bad_segments_string_rejected():
    with pytest.raises(ValueError):
        labels_to_result("01", None)


@pytest.mark.parametrize(
    ("anns", "rounds"),
    [
        ([], []),
        ([(1, False)], [1]),
        ([(1, False), (2, False), (3, False)], [1, 2, 3]),
        ([(1, True), (2, False), (3, False)], [1, 1, 2]),
        ([(1, False), (2, True), (3, False)], [1, 2, 2]),
    ],
)
def test_assign_rounds(anns, rounds):
    assert assign_rounds(anns) == rounds
