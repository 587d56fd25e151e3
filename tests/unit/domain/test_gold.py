"""domain.gold: the expert file, the mixing plan, accuracy on gold, acceptance bias."""

from __future__ import annotations

import pytest

from avel_annotate.domain import gold as g
from avel_annotate.errors import ConfigError

CLIPS = {"a_000000", "b_000000", "c_000000"}
CATS = {"dog", "cat"}
HEAD = "clip_id,segments,category\n"


def test_a_good_file_parses_with_its_line_numbers():
    text = HEAD + "a_000000,1111100000,dog\n\nb_000000, 0000000000 ,\n"
    rows = g.parse_gold_file(text, "gold.csv", CLIPS, CATS)
    assert rows == [
        g.GoldRow(2, "a_000000", "1111100000", "dog"),
        g.GoldRow(4, "b_000000", "0000000000", None),
    ]


@pytest.mark.parametrize(
    ("body", "where", "what"),
    [
        ("a_000000,1111100000\n", "gold.csv:2", "2 fields"),
        ("zz_000000,1111100000,dog\n", "gold.csv:2", "not in the store"),
        ("a_000000,11111,dog\n", "gold.csv:2", "not ten 0/1"),
        ("a_000000,11111x0000,dog\n", "gold.csv:2", "not ten 0/1"),
        ("a_000000,1111100000,horse\n", "gold.csv:2", "unknown category 'horse'"),
        ("a_000000,1111100000,\n", "gold.csv:2", "without a category"),
        ("a_000000,1111100000,dog\nb_000000,1,cat\n", "gold.csv:3", "not ten"),
        ("a_000000,1111100000,dog\na_000000,0000000000,\n", "gold.csv:3", "already on line 2"),
    ],
)
def test_a_bad_row_is_one_line_naming_file_and_line(body: str, where: str, what: str):
    with pytest.raises(ConfigError) as e:
        g.parse_gold_file(HEAD + body, "gold.csv", CLIPS, CATS)
    line = e.value.one_line()
    assert line.startswith(where + ":") and what in line and "\n" not in line
    assert e.value.hint


@pytest.mark.parametrize("text", ["clip,segments,category\na_000000,1111100000,dog\n", ""])
def test_a_wrong_header_or_empty_file_is_refused(text: str):
    with pytest.raises(ConfigError, match=r"gold\.csv"):
        g.parse_gold_file(text, "gold.csv", CLIPS, CATS)


@pytest.mark.parametrize(
    ("n", "rate", "k"),
    [(0, 0.05, 0), (9, 0.05, 0), (10, 0.05, 1), (20, 0.05, 1), (30, 0.05, 2), (30, 0.3, 9),
     (5, 0.0, 0)],
)  # fmt: skip
def test_gold_copy_count_rounds_half_up(n: int, rate: float, k: int):
    assert g.gold_copy_count(n, rate) == k


def test_plan_mixes_fewest_copies_first_at_seeded_places():
    order = g.plan_mix(20, {7: 2, 8: 0, 9: 0}, 0.25, seed=3)
    golds = [x for x in order if x is not None]
    assert len(order) == 25 and order.count(None) == 20
    assert sorted(golds) == [7, 8, 8, 9, 9]  # 8 and 9 catch up with 7 before 7 gets one more
    assert golds.index(7) == 4
    assert order == g.plan_mix(20, {7: 2, 8: 0, 9: 0}, 0.25, seed=3)
    assert order != g.plan_mix(20, {7: 2, 8: 0, 9: 0}, 0.25, seed=4)
    assert g.plan_mix(20, {}, 0.25, seed=3) == [None] * 20  # no gold clips, nothing mixed
    assert g.plan_mix(0, {7: 0}, 0.5, seed=3) == []  # no new work, no gold alone


def _cmp(who: str, segs: str, cat: str | None, gsegs: str = "1111100000", gcat: str = "dog"):
    return g.GoldComparison(who, segs, cat, gsegs, gcat)


def test_score_gold_counts_seconds_categories_and_flags_under_the_threshold():
    data = [
        *[_cmp("ann", "1111100000", "dog") for _ in range(3)],
        _cmp("bob", "1111100000", "dog"),
        _cmp("bob", "1111110000", "dog"),  # one second wrong
        _cmp("bob", "1111100000", "cat"),  # category wrong
        _cmp("cid", "0000011111", "cat"),
        _cmp("cid", "1111100000", "cat"),
        _cmp("cid", "0011100000", "dog"),
        _cmp("dee", "0000000000", None),  # one answer only
    ]
    by = {s.annotator: s for s in g.score_gold(data, threshold=0.8, min_answers=3)}
    assert [by[w].status for w in ("ann", "bob", "cid", "dee")] == ["ok", "flagged", "flagged",
                                                                      "too few"]  # fmt: skip
    assert (by["ann"].seconds_pct, by["ann"].category_pct, by["ann"].exact_pct) == (100, 100, 100)
    bob = by["bob"]
    assert (bob.answers, bob.seconds_right, bob.seconds_total) == (3, 29, 30)
    assert (bob.categories_right, bob.exact, bob.category_pct) == (2, 1, 66.7)
    assert bob.wrong_seconds_at == [0, 0, 0, 0, 0, 1, 0, 0, 0, 0]
    cid = by["cid"]
    assert (cid.seconds_right, cid.categories_right, cid.exact) == (0 + 10 + 8, 1, 0)
    # bob's seconds are fine (96.7 %); a looser category threshold lets him pass
    assert {s.annotator: s.status for s in g.score_gold(data, 0.6, 3)}["bob"] == "ok"


def _pf(who: str, segs: str, pred: str, kind: str | None = None, truth: str | None = None):
    return g.Prefilled(who, segs, "dog", pred, "dog", kind, truth, "dog" if truth else None)


def test_acceptance_bias_against_how_often_the_prediction_was_right():
    right, wrong = "1111100000", "1111111100"
    items = [
        _pf("lazy", wrong, wrong, "gold", right),  # kept a wrong prediction
        _pf("lazy", wrong, wrong, "gold", right),
        _pf("lazy", right, right, "gold", right),  # kept a right one
        _pf("lazy", right, right, "recheck", right),
        _pf("lazy", right, right),  # truth unknown: counts only in kept %
        _pf("keen", right, wrong, "gold", right),  # corrected the prediction
        _pf("keen", right, right, "gold", right),
        g.Prefilled("keen", right, "cat", right, "dog", "recheck", right, "cat"),  # fixed the cat
    ]
    by = {a.annotator: a for a in g.acceptance_bias(items)}
    lazy, keen = by["lazy"], by["keen"]
    assert (lazy.prefilled, lazy.kept, lazy.kept_pct) == (5, 5, 100.0)
    assert lazy.on_gold == g.TruthFigures(3, 1, 3, 2, 33.3, 100.0)
    assert lazy.on_rechecked == g.TruthFigures(1, 1, 1, 0, 100.0, 100.0)
    assert (keen.prefilled, keen.kept) == (3, 1)
    assert keen.on_gold == g.TruthFigures(2, 1, 1, 0, 50.0, 50.0)
    assert keen.on_rechecked == g.TruthFigures(1, 0, 0, 0, 0.0, 0.0)
    assert g.acceptance_bias([]) == []
