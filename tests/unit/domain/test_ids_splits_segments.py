from __future__ import annotations

from collections import Counter

import pytest

from avel_annotate.domain import segments as seg
from avel_annotate.domain.ids import is_safe_name, make_clip_id, parse_clip_id
from avel_annotate.domain.splits import SplitCandidate, assign_splits, parse_ratios


@pytest.mark.parametrize(
    ("ytid", "start", "clip_id"),
    [("---g-f_I2yQ", 1, "---g-f_I2yQ_000001"), ("abcdefghijk", 999999, "abcdefghijk_999999")],
)
def test_clip_id_round_trip(ytid, start, clip_id):
    assert make_clip_id(ytid, start) == clip_id
    assert parse_clip_id(clip_id) == (ytid, start)


@pytest.mark.parametrize("ytid", ["../../etc/pa", "abc/defghij", "abc\x00defghij", "short", ""])
def test_path_tricks_never_make_a_clip_id(ytid):
    with pytest.raises(ValueError):
        make_clip_id(ytid, 0)


@pytest.mark.parametrize("clip_id", ["../x_000001", "abcdefghijk_1", "abcdefghijk_000001.mp4"])
def test_bad_clip_ids_rejected(clip_id):
    with pytest.raises(ValueError):
        parse_clip_id(clip_id)


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("v1", True),
        ("cpsp-ave_2.0", True),
        ("..", False),
        ("a/b", False),
        (".hidden", False),
        ("", False),
        ("a..b", False),
    ],
)
def test_safe_names(name, ok):
    assert is_safe_name(name) is ok


@pytest.mark.parametrize(
    ("events", "bits"),
    [
        ([], "0000000000"),
        ([(0, 10)], "1111111111"),
        ([(6, 8)], "0000001100"),
        ([(0, 0)], "0000000000"),
        ([(0, 3), (6, 8)], "1110001100"),
        ([(9, 10)], "0000000001"),
    ],
)
def test_events_to_segments_start_inclusive_end_exclusive(events, bits):
    assert seg.from_events(events) == bits
    assert seg.from_list(seg.to_list(bits)) == bits


def test_ratios():
    assert parse_ratios("60/20/20") == pytest.approx((0.6, 0.2, 0.2))
    assert parse_ratios("3,1,1") == pytest.approx((0.6, 0.2, 0.2))
    for bad in ("60/40", "a/b/c", "-1/1/1", "0/0/0"):
        with pytest.raises(ValueError):
            parse_ratios(bad)


def _cands(n_per_cat: dict[str, int]) -> list[SplitCandidate]:
    out = []
    for cat, n in n_per_cat.items():
        out += [SplitCandidate(f"{cat[:3]:_<3}{i:08d}_000000", cat, None) for i in range(n)]
    return out


def test_assignment_is_stratified_reproducible_and_seed_dependent():
    cands = _cands({"dog": 50, "cat": 10, "owl": 3})
    a = assign_splits(cands, parse_ratios("60/20/20"), seed=7)
    assert a == assign_splits(list(reversed(cands)), parse_ratios("60/20/20"), seed=7)
    assert a != assign_splits(cands, parse_ratios("60/20/20"), seed=8)
    per_cat = Counter((c.category, a[c.clip_id]) for c in cands)
    assert (per_cat["dog", "train"], per_cat["dog", "val"], per_cat["dog", "test"]) == (30, 10, 10)
    assert (per_cat["cat", "train"], per_cat["cat", "val"], per_cat["cat", "test"]) == (6, 2, 2)
    assert sum(per_cat["owl", s] for s in ("train", "val", "test")) == 3


def test_locked_clips_keep_their_split_and_count_towards_quota():
    cands = _cands({"dog": 10})
    locked = [SplitCandidate(c.clip_id, c.category, "test", True) for c in cands[:2]]
    result = assign_splits(locked + cands[2:], parse_ratios("60/20/20"), seed=1)
    assert result[cands[0].clip_id] == result[cands[1].clip_id] == "test"
    assert Counter(result.values()) == {"train": 6, "val": 2, "test": 2}


def test_adding_clips_moves_few_existing_ones():
    base = _cands({"dog": 100})
    first = assign_splits(base, parse_ratios("60/20/20"), seed=3)
    more = assign_splits(base + _cands({"dog": 110})[100:], parse_ratios("60/20/20"), seed=3)
    moved = sum(first[c.clip_id] != more[c.clip_id] for c in base)
    assert moved <= 10
