"""Hostile clip lists: non-ASCII digits, line separators inside fields, column limits."""

from __future__ import annotations

import pytest

from avel_annotate.domain.cliplist import (
    MAX_LINE_CHARS,
    TruncatedLine,
    parse_clip_list,
    split_lines,
)

GOOD = "abcdefghijk,30,dog barking,train\n"


@pytest.mark.parametrize("start", ["²", "١٢", "1_0", "1e5", "0x10", "٣", "1.5e1", " 1 2", "+3"])
def test_starts_are_ascii_digits_only(start: str) -> None:
    parsed = parse_clip_list("l.csv", GOOD + f"bcdefghijkl,{start},dog,train\n")
    assert [p.line for p in parsed.problems] == [2]
    assert "is not a number (use the digits 0-9)" in parsed.problems[0].reason
    assert len(parsed.rows) == 1


@pytest.mark.parametrize(("start", "value"), [("30", 30), ("30.0", 30), ("007", 7), ("5.", 5)])
def test_plain_starts_still_parse(start: str, value: int) -> None:
    parsed = parse_clip_list("l.csv", f"bcdefghijkl,{start},dog,train\n")
    assert parsed.problems == () and parsed.rows[0].start_s == value


@pytest.mark.parametrize("field", ["StartTime", "EndTime"])
@pytest.mark.parametrize("value", ["²", "١", "1_0", "1e0"])
def test_ave_times_are_ascii_digits_only(field: str, value: str) -> None:
    times = f"{value}&5" if field == "StartTime" else f"0&{value}"
    parsed = parse_clip_list("a.txt", f"Dog&abcdefghijk&good&{times}\n", "ave")
    assert parsed.problems[0].line == 1
    assert f"{field} {value!r} is not a number" in parsed.problems[0].reason


@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1e"])
def test_line_separators_inside_a_field_do_not_split_the_row(sep: str) -> None:
    text = GOOD + f"bcdefghijkl,1,dog{sep}cat,train\n" + "cdefghijklm,2,cat,test\n"
    parsed = parse_clip_list("l.csv", text)
    assert [p.line for p in parsed.problems] == [2]
    assert "label contains control characters" in parsed.problems[0].reason
    assert [(r.line, r.ytid) for r in parsed.rows] == [(1, "abcdefghijk"), (3, "cdefghijklm")]


def test_split_lines_splits_at_newlines_only() -> None:
    assert split_lines("a\r\nb\u2028c\nd\x85e\n") == ["a", "b\u2028c", "d\x85e"]
    assert split_lines("a\n\nb") == ["a", "", "b"]


def test_column_limits_are_checked_with_the_line() -> None:
    long_quality = "q" * 41
    text = f"Dog&abcdefghijk&good&0&3\nDog&bcdefghijkl&{long_quality}&0&3\n"
    parsed = parse_clip_list("a.txt", text, "ave")
    assert [(p.line, p.reason) for p in parsed.problems] == [
        (2, "Quality is 41 characters long; at most 40 are kept")
    ]
    ok = parse_clip_list("a.txt", f"Dog&bcdefghijkl&{'q' * 40}&0&3\n", "ave")
    assert ok.problems == ()
    label = "x" * 201
    parsed = parse_clip_list("l.csv", f"abcdefghijk,1,{label},train\n")
    assert parsed.problems[0].reason == "label is 201 characters long; at most 200 are kept"


def test_a_path_longer_than_the_store_keeps_is_refused() -> None:
    with pytest.raises(ValueError, match="the path is 501 characters long"):
        parse_clip_list("p" * 501, GOOD)


def test_zero_length_ave_events_are_kept_and_reported() -> None:
    parsed = parse_clip_list("a.txt", "Dog&abcdefghijk&good&0&3\nDog&bcdefghijkl&good&4&4\n")
    assert parsed.problems == ()
    assert len(parsed.rows) == 2
    assert parsed.warning_lines() == [
        "a.txt:2: warning: zero-length event (StartTime = EndTime = 4): kept, but it labels no "
        "second of the clip"
    ]


def test_overlong_lines_are_reported_not_parsed() -> None:
    text = GOOD + "," * (MAX_LINE_CHARS + 1) + "\n" + "cdefghijklm,2,cat,test\n"
    parsed = parse_clip_list("l.csv", text)
    assert [(p.line, p.reason) for p in parsed.problems] == [
        (2, f"line is longer than {MAX_LINE_CHARS} characters")
    ]
    assert len(parsed.rows) == 2
    lines = [GOOD.strip(), TruncatedLine(",,,,"), "cdefghijklm,2,cat,test"]
    assert [p.line for p in parse_clip_list("l.csv", lines).problems] == [2]
