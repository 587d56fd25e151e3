from __future__ import annotations

import pytest

from avel_annotate.domain.qc_draw import draw_recheck


def _cands(counts: dict[str, int]) -> list[tuple[int, str]]:
    out, key = [], 0
    for stratum, n in counts.items():
        for _ in range(n):
            out.append((key, stratum))
            key += 1
    return out


@pytest.mark.parametrize(
    ("counts", "fraction", "expected_total"),
    [
        ({"dog": 10}, 0.6, 6),
        ({"dog": 5, "cat": 5}, 0.6, 6),
        ({"dog": 3, "cat": 3, "owl": 4}, 0.6, 6),
        ({"dog": 1}, 0.6, 1),
        ({"dog": 7, "cat": 0}, 0.0, 0),
        ({"dog": 7}, 1.0, 7),
        ({}, 0.6, 0),
    ],
)
def test_total_is_rounded_fraction(counts, fraction, expected_total):
    assert len(draw_recheck(_cands(counts), fraction, seed=1)) == expected_total


def test_stratified_each_category_gets_its_share():
    cands = _cands({"dog": 10, "cat": 20})
    drawn = set(draw_recheck(cands, 0.6, seed=3))
    by = {s: sum(1 for k, c in cands if c == s and k in drawn) for s in ("dog", "cat")}
    assert by == {"dog": 6, "cat": 12}


def test_same_seed_same_draw_and_order_independent():
    cands = _cands({"dog": 9, "cat": 11})
    a = draw_recheck(cands, 0.6, seed=7)
    b = draw_recheck(list(reversed(cands)), 0.6, seed=7)
    assert a == b
    assert draw_recheck(cands, 0.6, seed=8) != a


@pytest.mark.parametrize("fraction", [-0.1, 1.5])
def test_bad_fraction(fraction):
    with pytest.raises(ValueError):
        draw_recheck([(1, "a")], fraction, 0)


def test_duplicate_keys_rejected():
    with pytest.raises(ValueError, match="unique"):
        draw_recheck([(1, "a"), (1, "b")], 0.5, 0)
