"""Clip-list parsing: every format, its quirks, and every kind of bad row."""

from __future__ import annotations

import pytest

from avel_annotate.domain.cliplist import detect_format, parse_clip_list

VGG = (
    "---g-f_I2yQ,1,people marching,test\n"
    '-0abcdefghi,30,"female speech, woman speaking",train\n'
    "Zz_9-aB3cD4,185.0,playing tennis,train\n"
)


def test_vggsound_rows_with_dash_ids_quoted_commas_and_float_starts():
    parsed = parse_clip_list("v.csv", VGG)
    assert parsed.format == "vggsound"
    assert parsed.problems == ()
    assert [(r.ytid, r.start_s, r.label, r.split) for r in parsed.rows] == [
        ("---g-f_I2yQ", 1, "people marching", "test"),
        ("-0abcdefghi", 30, "female speech, woman speaking", "train"),
        ("Zz_9-aB3cD4", 185, "playing tennis", "train"),
    ]
    assert parsed.rows[0].clip_id == "---g-f_I2yQ_000001"


def test_crlf_bom_and_header_line():
    text = "\ufeffytid,start_s,label,split\r\n" + VGG.replace("\n", "\r\n")
    parsed = parse_clip_list("v.csv", text)
    assert parsed.header_line == 1
    assert len(parsed.rows) == 3
    assert parsed.rows[1].label == "female speech, woman speaking"
    assert parsed.rows[0].line == 2


def test_blank_lines_are_not_rows_but_line_numbers_stay_true():
    parsed = parse_clip_list("v.csv", "\n" + VGG + "\n\n")
    assert [r.line for r in parsed.rows] == [2, 3, 4]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("abcdefghijk,1,dog,train,extra", "expected 4 columns"),
        ("abcdefghijk,1,dog", "expected 4 columns"),
        ("abcdefghijk,x,dog,train", "start 'x' is not a number"),
        ("abcdefghijk,-3,dog,train", "start '-3' is negative"),
        ("abcdefghijk,1.5,dog,train", "not a whole number"),
        ("abcdefghijk,nan,dog,train", "start 'nan' is not a number (use the digits 0-9)"),
        ("abcdefghij,1,dog,train", "bad YouTube id"),
        ("../../etc/pa,1,dog,train", "bad YouTube id"),
        ("abc/defghij,1,dog,train", "bad YouTube id"),
        ("abc\x00defghij,1,dog,train", "bad YouTube id"),
        ("abcdefghijk,1,dog,validation", "unknown split 'validation'"),
        ("abcdefghijk,1,,train", "empty label"),
        ("abcdefghijk,1,  ,train", "empty label"),
        ("abcdefghijk,1,do\x07g,train", "control characters"),
    ],
)
def test_bad_vggsound_rows_are_reported_with_line_and_reason(row, reason):
    parsed = parse_clip_list("bad.csv", VGG + row + "\n")
    assert len(parsed.rows) == 3
    assert len(parsed.problems) == 1
    line = parsed.problem_lines()[0]
    assert line.startswith("bad.csv:4: ")
    assert reason in line


def test_same_clip_with_other_label_in_one_file_is_a_problem_exact_repeat_is_not():
    text = VGG + "---g-f_I2yQ,1,people marching,test\n" + "---g-f_I2yQ,1,dog barking,test\n"
    parsed = parse_clip_list("v.csv", text)
    assert len(parsed.rows) == 3
    assert [p.line for p in parsed.problems] == [5]
    assert "already listed at line 1" in parsed.problems[0].reason


def test_same_video_two_starts_are_two_clips():
    parsed = parse_clip_list("v.csv", "abcdefghijk,0,dog,train\nabcdefghijk,30,dog,train\n")
    assert [r.clip_id for r in parsed.rows] == ["abcdefghijk_000000", "abcdefghijk_000030"]


FILES = "glLQrEijrKg_000300.mp4,playing hammond organ\r\n-DoXsip0BEQ_000177.mp4,parrot talking\r\n"


def test_vggsound_file_list():
    parsed = parse_clip_list("test.csv", FILES)
    assert parsed.format == "vggsound-files"
    assert [(r.ytid, r.start_s, r.label, r.split) for r in parsed.rows] == [
        ("glLQrEijrKg", 300, "playing hammond organ", None),
        ("-DoXsip0BEQ", 177, "parrot talking", None),
    ]


@pytest.mark.parametrize(
    "row",
    ["glLQrEijrKg_300.mp4,organ", "glLQrEijrKg_000300.avi,organ", "../etc/passwd_000001.mp4,x"],
)
def test_bad_file_names(row):
    parsed = parse_clip_list("test.csv", FILES + row + "\r\n")
    assert [p.line for p in parsed.problems] == [3]
    assert "is not <11-char YouTube id>_<6-digit start>.mp4" in parsed.problems[0].reason


AVE = (
    "Church bell&RUhOCu3LNXM&good&0&10\n"
    "Church bell&MH3m4AwEcRY&good&6&8\n"
    "Male speech, man speaking&MH3m4AwEcRY&good&0&3\n"
    "Dog&-zeroLen000&bad&0&0\n"
)


def test_ave_rows_events_and_header():
    for text in (AVE, "Category&VideoID&Quality&StartTime&EndTime\n" + AVE):
        parsed = parse_clip_list("Annotations.txt", text)
        assert parsed.format == "ave"
        assert parsed.problems == ()
        assert [(r.ytid, r.label, r.event) for r in parsed.rows] == [
            ("RUhOCu3LNXM", "Church bell", (0, 10)),
            ("MH3m4AwEcRY", "Church bell", (6, 8)),
            ("MH3m4AwEcRY", "Male speech, man speaking", (0, 3)),
            ("-zeroLen000", "Dog", (0, 0)),
        ]
        assert all(r.start_s == 0 for r in parsed.rows)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("Dog&abcdefghijk&good&5&3", "EndTime 3 is before StartTime 5"),
        ("Dog&abcdefghijk&good&0&11", "EndTime 11 is outside the 10-s clip"),
        ("Dog&abcdefghijk&good&-1&3", "StartTime '-1' is negative"),
        ("Dog&abcdefghijk&good&0.5&3", "not a whole number of seconds"),
        ("Dog&abcdefghijk&good&0", "expected 5 '&'-separated fields"),
        ("&abcdefghijk&good&0&3", "empty label"),
        ("Dog&abc&good&0&3", "bad YouTube id"),
    ],
)
def test_bad_ave_rows(row, reason):
    parsed = parse_clip_list("Annotations.txt", AVE + row + "\n", "ave")
    assert [p.line for p in parsed.problems] == [5]
    assert reason in parsed.problems[0].reason


AVEL = (
    "video_id, category, split, labels\n"
    'abcdefghijk_000030, dog barking, val, "[0,1,1,1,1,1,0,1,1,1]"\n'
    "bcdefghijkl, cat meowing, test, 1111111111\n"
)


def test_avel100k_rows_keep_split_and_labels():
    parsed = parse_clip_list("avel.csv", AVEL)
    assert parsed.format == "avel100k"
    assert parsed.problems == ()
    first, second = parsed.rows
    assert (first.ytid, first.start_s, first.split, first.segments) == (
        "abcdefghijk",
        30,
        "val",
        "0111110111",
    )
    assert (second.start_s, second.segments) == (None, "1111111111")


def test_avel100k_bad_labels():
    parsed = parse_clip_list("avel.csv", AVEL + "cdefghijklm, cat, train, 0101\n")
    assert "are not ten 0/1 values" in parsed.problems[0].reason


@pytest.mark.parametrize(
    ("first", "fmt"),
    [
        ("---g-f_I2yQ,1,people marching,test", "vggsound"),
        ("glLQrEijrKg_000300.mp4,organ", "vggsound-files"),
        ("Church bell&RUhOCu3LNXM&good&0&10", "ave"),
        ("video_id,category,split", "avel100k"),
        ("", "vggsound"),
    ],
)
def test_detect_format(first, fmt):
    assert detect_format([first]) == fmt


def test_real_samples_parse_cleanly(samples):
    expected = {
        "vggsound_head200.csv": "vggsound",
        "vggsound_test_clips_head200.csv": "vggsound-files",
        "ave_annotations_head200.txt": "ave",
    }
    for name, fmt in expected.items():
        text = (samples / name).read_bytes().decode("utf-8-sig")
        parsed = parse_clip_list(name, text)
        assert parsed.format == fmt
        assert parsed.problems == ()
        assert len(parsed.rows) == 200
