"""Import validation is the same on SQLite and PostgreSQL: FILE:LINE for every bad row, no SQL."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from avel_annotate.config import Settings
from avel_annotate.errors import ClipListError
from avel_annotate.services.clips import clip_stats, import_clip_list, read_clip_list
from avel_annotate.services.store import Store

GOOD = "abcdefghijk,30,dog barking,train\n"


def test_quality_over_40_characters_is_a_row_problem_on_both_backends(
    any_settings: Settings, any_store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "Annotations.txt"
    path.write_text(f"Dog&abcdefghijk&good&0&3\nDog&bcdefghijkl&{'q' * 41}&0&3\n")
    with pytest.raises(ClipListError) as info:
        import_clip_list(any_store, any_settings, path)
    assert info.value.problems == [f"{path}:2: Quality is 41 characters long; at most 40 are kept"]
    assert clip_stats(any_store).total == 0
    report = import_clip_list(any_store, any_settings, path, skip_invalid=True)
    assert (report.clips_new, report.rejected) == (1, 1)


def test_a_list_path_over_500_characters_is_refused_on_both_backends(
    any_settings: Settings, any_store: Store, tmp_path: Path
) -> None:
    folder = tmp_path
    while len(str(folder)) < 500:
        folder = folder / ("d" * 100)
    folder.mkdir(parents=True)
    path = folder / "v.csv"
    path.write_text(GOOD)
    with pytest.raises(ClipListError) as info:
        import_clip_list(any_store, any_settings, path)
    assert f"the path is {len(str(path))} characters long" in info.value.one_line()
    assert "move or rename the list" in info.value.one_line()
    assert clip_stats(any_store).total == 0


@pytest.mark.parametrize("start", ["²", "١٢", "1_0", "1e5"])
def test_non_ascii_starts_are_named_and_skippable(
    settings: Settings, store: Store, tmp_path: Path, start: str
) -> None:
    path = tmp_path / "v.csv"
    path.write_text(GOOD + f"bcdefghijkl,{start},dog,train\n", encoding="utf-8")
    with pytest.raises(ClipListError) as info:
        import_clip_list(store, settings, path)
    assert info.value.problems == [
        f"{path}:2: start {start!r} is not a number (use the digits 0-9)"
    ]
    report = import_clip_list(store, settings, path, skip_invalid=True)
    assert (report.clips_new, report.rejected) == (1, 1)


def test_line_separators_keep_line_numbers_right(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "v.csv"
    rows = [GOOD, "bcdefghijkl,1,dog\u2028cat,train\n", "cdefghijklm,2,a\x85b,test\n"]
    rows += ["defghijklmn,3,c\x0bd,test\n", "efghijklmno,x,e,test\n"]
    path.write_text("".join(rows), encoding="utf-8")
    with pytest.raises(ClipListError) as info:
        import_clip_list(store, settings, path)
    assert [p.split(":")[-2] for p in info.value.problems] == ["2", "3", "4", "5"]
    assert "start 'x' is not a number" in info.value.problems[3]


def test_a_256mb_like_line_of_commas_is_reported_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "v.csv"
    with path.open("w") as fh:
        fh.write(GOOD)
        fh.write("," * (64 << 20) + "\n")  # 64 MiB here; the memory bound does not depend on it
        fh.write("bcdefghijkl,1,dog,train\n")
    tracemalloc.start()
    try:
        parsed = read_clip_list(path, None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(p.line, p.reason) for p in parsed.problems] == [
        (2, "line is longer than 10000 characters")
    ]
    assert len(parsed.rows) == 2
    assert peak < 8 << 20, f"peak {peak / 2**20:.1f} MiB for a 64 MiB line"


def test_zero_length_events_are_reported_on_import(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "Annotations.txt"
    path.write_text("Dog&abcdefghijk&good&0&3\nDog&bcdefghijkl&good&0&0\n")
    report = import_clip_list(store, settings, path)
    assert report.clips_new == 2
    assert report.warnings == [
        f"{path}:2: warning: zero-length event (StartTime = EndTime = 0): kept, but it labels "
        "no second of the clip"
    ]
