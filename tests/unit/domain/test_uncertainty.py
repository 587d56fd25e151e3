"""Confidence scores of a prediction and the push order they give: tables of edge cases."""

from __future__ import annotations

import math

import pytest

from avel_annotate.domain.uncertainty import (
    CATEGORY_WEIGHT,
    SCORERS,
    disagreement,
    entropy_score,
    expected_accuracy_score,
    margin_score,
    order_balanced,
    order_by_confidence,
    score,
)

SURE_EVENT = [1.0] * 10
SURE_BG = [0.0] * 10
HALF = [0.5] * 10
ONE_HOT = [0.0, 1.0, 0.0, 0.0]
UNIFORM = [0.25] * 4


@pytest.mark.parametrize("method", sorted(SCORERS))
@pytest.mark.parametrize(
    ("events", "cats"),
    [(SURE_EVENT, ONE_HOT), (SURE_BG, ONE_HOT), ([1.0] * 4 + [0.0] * 6, ONE_HOT)],
)
def test_one_hot_predictions_are_fully_confident(method, events, cats):
    assert score(events, cats, method) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("fn", "events", "cats", "expected"),
    [
        # margin: mean |2p - 1| times max q
        (margin_score, HALF, ONE_HOT, 0.0),
        (margin_score, SURE_EVENT, UNIFORM, 0.25),
        (margin_score, [0.75] * 10, ONE_HOT, 0.5),
        (margin_score, [1.0] * 5 + [0.5] * 5, [0.5, 0.5], 0.25),
        # entropy: one minus the weighted mean of normalised entropies
        (entropy_score, HALF, ONE_HOT, 1.0 - 10 / (10 + CATEGORY_WEIGHT)),
        (entropy_score, SURE_EVENT, UNIFORM, 1.0 - CATEGORY_WEIGHT / (10 + CATEGORY_WEIGHT)),
        (entropy_score, HALF, UNIFORM, 0.0),
        # expected accuracy: p max q where the model says event, 1 - p where it says background
        (expected_accuracy_score, SURE_EVENT, UNIFORM, 0.25),
        (expected_accuracy_score, SURE_BG, UNIFORM, 1.0),  # category does not matter then
        (expected_accuracy_score, [0.8] * 10, [0.5, 0.5], 0.4),
        (expected_accuracy_score, [0.2] * 10, [0.5, 0.5], 0.8),
        (expected_accuracy_score, [0.9] * 5 + [0.1] * 5, ONE_HOT, 0.9),
    ],
)
def test_score_values(fn, events, cats, expected):
    assert fn(events, cats) == pytest.approx(expected)


def test_expected_accuracy_ranks_a_doubtful_category_below_margin():
    """The case the margin score gets backwards for segment accuracy: background seconds are
    right whatever the category, so an all-background-but-one clip with an unsure category is
    still likely right, and an all-event clip with the same unsure category is not."""
    cats = [0.4, 0.35, 0.25]
    mostly_bg = [0.95] + [0.05] * 9
    all_event = [0.95] * 10
    assert margin_score(mostly_bg, cats) == pytest.approx(margin_score(all_event, cats))
    assert expected_accuracy_score(mostly_bg, cats) > expected_accuracy_score(all_event, cats)


def test_category_distribution_is_normalised_and_single_category_is_sure():
    assert margin_score(SURE_EVENT, [2.0, 0.0]) == pytest.approx(1.0)
    assert entropy_score(SURE_EVENT, [3.0]) == pytest.approx(1.0)
    assert expected_accuracy_score(SURE_EVENT, [0.0, 0.0]) == pytest.approx(0.5)  # uniform


@pytest.mark.parametrize(
    ("events", "cats", "message"),
    [([], ONE_HOT, "event probabilities"), (HALF, [], "category"), ([math.nan], ONE_HOT, "finite")],
)
def test_bad_input_is_refused(events, cats, message):
    with pytest.raises(ValueError, match=message):
        score(events, cats)


def test_unknown_method_names_the_choices():
    with pytest.raises(ValueError, match=r"unknown score .bald.*margin"):
        score(HALF, ONE_HOT, "bald")


@pytest.mark.parametrize(
    ("a", "ca", "b", "cb", "expected"),
    [
        ("1111100000", "dog", "1111100000", "dog", 0.0),
        ("1111100000", "dog", "1111100000", "cat", 0.5),  # same seconds, other category
        ("1111100000", "dog", "0000011111", "dog", 1.0),
        ("0000000000", None, "0000000000", "dog", 0.0),  # no event: category is moot
        ("1000000000", "dog", "0000000000", None, 0.1),
    ],
)
def test_disagreement(a, ca, b, cb, expected):
    assert disagreement(a, ca, b, cb) == pytest.approx(expected)


def test_disagreement_needs_equal_lengths():
    with pytest.raises(ValueError):
        disagreement("10", None, "1", None)


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([0.9, 0.1, 0.5], [1, 2, 0]),
        ([None, 0.3, None, 0.2], [3, 1, 0, 2]),  # unscored last, in list order
        ([0.5, 0.5, 0.1], [2, 0, 1]),  # ties keep list order
        ([], []),
    ],
)
def test_order_by_confidence(scores, expected):
    assert order_by_confidence(scores) == expected


@pytest.mark.parametrize(
    ("scores", "groups", "expected"),
    [
        # b's least sure clip is the least sure of all: b, then None, then a take turns
        ([0.9, 0.1, 0.5, 0.2, None, 0.3], ["a", "b", "a", "b", None, None], [1, 5, 2, 3, 0, 4]),
        # one group: the plain uncertainty order
        ([0.9, 0.1, 0.5], ["a", "a", "a"], [1, 2, 0]),
        # a group that runs out drops out of the turns
        ([0.1, 0.2, 0.3, 0.4], ["a", "a", "a", "b"], [0, 3, 1, 2]),
        # ties keep list order, within and across groups
        ([0.5, 0.5, 0.5, 0.5], ["a", "b", "a", "b"], [0, 1, 2, 3]),
        ([None, None], ["a", "b"], [0, 1]),
        ([], [], []),
    ],
)
def test_order_balanced(scores, groups, expected):
    assert order_balanced(scores, groups) == expected


def test_order_balanced_spreads_a_batch_over_the_categories():
    # the model is least sure of every "hard" clip: uncertainty order fills a batch of 4 with
    # them, balanced order takes two of each
    scores = [0.1, 0.15, 0.2, 0.25, 0.3, 0.8, 0.85, 0.9]
    groups = ["hard"] * 5 + ["easy"] * 3
    first4 = [groups[i] for i in order_balanced(scores, groups)[:4]]
    assert first4.count("hard") == 2 and first4.count("easy") == 2
    assert [groups[i] for i in order_by_confidence(scores)[:4]] == ["hard"] * 4
    assert sorted(order_balanced(scores, groups)) == list(range(8))  # a permutation


def test_order_balanced_needs_one_group_per_score():
    with pytest.raises(ValueError):
        order_balanced([0.1, 0.2], ["a"])
