"""Segment metrics: parametrised edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from avel_annotate.domain.metrics import (
    all_event_clips,
    binary_prf,
    confusion_matrix,
    event_background_prf,
    per_class_accuracy,
    segment_accuracy,
    segment_report,
    subset_accuracy,
)

BG = 2  # two event categories, background = 2


@pytest.mark.parametrize(
    ("truth", "pred", "expected"),
    [
        ([[0, 1, 2]], [[0, 1, 2]], 1.0),
        ([[0, 1, 2]], [[2, 2, 2]], 1 / 3),
        ([[0, 0], [2, 2]], [[1, 1], [2, 2]], 0.5),
        ([0, 1, 2, 2], [0, 0, 0, 0], 0.25),
    ],
)
def test_segment_accuracy(truth, pred, expected) -> None:
    assert segment_accuracy(truth, pred) == pytest.approx(expected)


def test_segment_accuracy_empty_and_shape() -> None:
    assert math.isnan(segment_accuracy([], []))
    with pytest.raises(ValueError, match="shape"):
        segment_accuracy([[0, 1]], [[0]])


@pytest.mark.parametrize(
    ("truth", "pred", "cell", "count"),
    [([0, 0, 1], [0, 1, 1], (0, 1), 1), ([0, 0, 1], [0, 1, 1], (1, 1), 1), ([2], [0], (2, 0), 1)],
)
def test_confusion_rows_are_truth(truth, pred, cell, count) -> None:
    cm = confusion_matrix(truth, pred, 3)
    assert cm[cell] == count and cm.sum() == len(truth)


def test_confusion_rejects_out_of_range() -> None:
    with pytest.raises(ValueError, match="labels"):
        confusion_matrix([0, 3], [0, 0], 3)


def test_per_class_accuracy_nan_for_absent() -> None:
    acc = per_class_accuracy([0, 0, 2, 2], [0, 1, 2, 2], 3)
    assert acc[0] == 0.5 and math.isnan(acc[1]) and acc[2] == 1.0


@pytest.mark.parametrize(
    ("truth", "pred", "precision", "recall"),
    [
        ([1, 1, 0, 0], [1, 0, 1, 0], 0.5, 0.5),
        ([1, 1, 0, 0], [0, 0, 0, 0], 0.0, 0.0),  # no predictions -> 0, not NaN
        ([0, 0], [1, 1], 0.0, 0.0),  # no truth
        ([1, 1], [1, 1], 1.0, 1.0),
    ],
)
def test_binary_prf(truth, pred, precision, recall) -> None:
    prf = binary_prf(truth, pred)
    assert (prf.precision, prf.recall) == pytest.approx((precision, recall))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    assert prf.f1 == pytest.approx(f1)


def test_event_prf_ignores_category() -> None:
    # a wrong category on an event segment still counts as a detected event
    event, background = event_background_prf([[0, 1, BG]], [[1, 1, 0]], BG)
    assert event.recall == 1.0 and event.precision == pytest.approx(2 / 3)
    assert background.recall == 0.0 and background.support == 1


def test_subsets() -> None:
    truth = np.array([[0, 0, 0], [1, BG, BG]])
    pred = np.array([[0, 0, 1], [1, BG, 0]])
    assert all_event_clips(truth, BG).tolist() == [True, False]
    ae, bg = subset_accuracy(truth, pred, BG)
    assert ae == pytest.approx(2 / 3) and bg == pytest.approx(2 / 3)
    ae, bg = subset_accuracy(truth[:1], pred[:1], BG)
    assert math.isnan(bg)


def test_report_to_dict() -> None:
    truth = np.array([[0, 0, BG], [1, 1, 1]])
    report = segment_report(truth, truth, 2)
    d = report.to_dict()
    assert d["accuracy"] == 1.0 and d["n_clips_ae"] == 1 and d["n_clips_bg"] == 1
    assert d["all_background_accuracy"] == pytest.approx(1 / 6)
    assert d["confusion"][BG][BG] == 1
    assert d["event"]["f1"] == 1.0
