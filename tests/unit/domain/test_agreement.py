from __future__ import annotations

import pytest

from avel_annotate.domain.agreement import (
    LabelPair,
    cohen_kappa,
    differing_seconds,
    figures,
    grouped_figures,
    percent_agreement,
)

WIKI_X = [1] * 20 + [1] * 5 + [0] * 10 + [0] * 15
WIKI_Y = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15


@pytest.mark.parametrize(
    ("x", "y", "expected"),
    [
        # Wikipedia's worked example: p_o = 35/50 = 0.7, p_e = 0.5*0.6 + 0.5*0.4 = 0.5 -> 0.4
        (WIKI_X, WIKI_Y, 0.4),
        # p_o = 8/10, both raters 3 ones: p_e = (9 + 49)/100 = 0.58 -> 0.22 / 0.42
        ([1, 1, 0, 0, 1, 0, 0, 0, 0, 0], [1, 0, 0, 0, 1, 1, 0, 0, 0, 0], 0.22 / 0.42),
        ([0, 1], [1, 0], -1.0),  # p_o = 0, p_e = 0.5
        ([0, 1, 1, 0], [0, 1, 1, 0], 1.0),
        (["a", "b", "b"], ["a", "b", "c"], (2 / 3 - 1 / 3) / (1 - 1 / 3)),  # p_e = (1 + 2) / 9
    ],
)
def test_cohen_kappa_matches_hand_computation(x, y, expected):
    assert cohen_kappa(x, y) == pytest.approx(expected)


@pytest.mark.parametrize(("x", "y"), [([], []), ([0, 0, 0], [0, 0, 0]), (["dog"], ["dog"])])
def test_kappa_undefined_is_none(x, y):
    assert cohen_kappa(x, y) is None


def test_length_mismatch_rejected():
    with pytest.raises(ValueError, match="length"):
        cohen_kappa([1], [1, 0])


@pytest.mark.parametrize(
    ("x", "y", "expected"), [([1, 0, 1, 1], [1, 1, 1, 0], 50.0), ([], [], None), ([0], [0], 100.0)]
)
def test_percent_agreement(x, y, expected):
    assert percent_agreement(x, y) == expected


def test_figures_pool_all_second_pairs():
    pairs = [
        LabelPair("1100000000", "1000000000", "dog", "dog"),
        LabelPair("0000110000", "0000110000", "dog", "cat"),
    ]
    f = figures(pairs)
    assert f.n_pairs == 2 and f.n_seconds == 20
    # 19 of 20 seconds agree; rater a has 4 ones, rater b 3 ones (of 20)
    assert f.percent_agreement == pytest.approx(95.0)
    p_e = (4 * 3 + 16 * 17) / 400
    assert f.kappa == pytest.approx((0.95 - p_e) / (1 - p_e))
    assert f.category_agreement == pytest.approx(50.0)
    assert f.exact_agreement == pytest.approx(0.0)


def test_grouped_figures_per_annotator_counts_pair_for_both():
    pairs = [LabelPair("1" * 10, "1" * 10), LabelPair("0" * 10, "1" * 10)]
    names = [("ann", "bob"), ("ann", "cid")]
    got = grouped_figures(pairs, lambda i, _p: names[i])
    assert got["ann"].n_pairs == 2 and got["bob"].n_pairs == 1 and got["cid"].n_pairs == 1
    assert got["bob"].percent_agreement == 100.0 and got["cid"].percent_agreement == 0.0


def test_differing_seconds():
    assert differing_seconds("1100000001", "0100000000") == [0, 9]
