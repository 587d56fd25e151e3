"""Parse and validate clip lists: VGGSound CSV, VGGSound file lists, AVE Annotations.txt, AVEL100k.

Pure functions over text. Validation is whole-file: :func:`parse_clip_list` returns every good row
and every problem (``FILE:LINE: reason``); the caller decides whether anything is imported.
Quirks handled: CRLF line ends, a UTF-8 BOM, optional header lines, double-quoted labels with
commas, ``1.0``-style starts, ids that begin with ``-``, blank lines (ignored, never counted).

Rows end at ``\n`` (``\r\n``) only: U+2028, U+0085, ``\x0b`` and the other characters
``str.splitlines`` treats as line ends stay inside their row (and are reported there), so line
numbers are what an editor shows. Numbers are ASCII digits only (no ``²``, ``١٢``, ``1_0``,
``1e5``). Every field is checked against the column it is stored in (``MAX_*`` below: the
store's column sizes are these constants), so SQLite and PostgreSQL accept the same lists. A line
longer than ``MAX_LINE_CHARS`` is reported without being split into fields.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from avel_annotate.domain.ids import is_valid_ytid, make_clip_id

FORMATS = ("vggsound", "vggsound-files", "ave", "avel100k")
N_SEGMENTS = 10
AVE_CLIP_SECONDS = 10
MAX_LABEL_LEN = 200  # category.name
MAX_QUALITY_LEN = 40  # list_event.quality
MAX_PATH_LEN = 500  # clip.source_file: the clip list's path
MAX_LINE_CHARS = 10_000  # no valid row comes near; longer lines are reported, not parsed

_HEADER_WORDS = {
    "ytid", "youtube_id", "youtubeid", "video_id", "videoid", "id", "start", "start_s",
    "start_seconds", "starttime", "endtime", "label", "labels", "split", "category", "quality",
    "filename", "file", "fname",
}  # fmt: skip
_FILE_RE = re.compile(r"([A-Za-z0-9_-]{11})_(\d{6})\.mp4")
_CLIPID_RE = re.compile(r"([A-Za-z0-9_-]{11})_(\d{6})")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NUMBER_RE = re.compile(r"(-?)([0-9]+)(?:\.([0-9]*))?")  # ASCII digits, optional ".0"
_LINE_END_RE = re.compile(r"\r?\n")


@dataclass(frozen=True)
class ListRow:
    """One valid row. ``start_s`` is None only for AVEL100k ids without a start."""

    line: int
    ytid: str
    start_s: int | None
    label: str
    split: str | None = None
    event: tuple[int, int] | None = None  # AVE: event seconds [start, end) inside the clip
    quality: str | None = None
    segments: str | None = None  # AVEL100k: ten 0/1 labels

    @property
    def clip_id(self) -> str | None:
        return None if self.start_s is None else make_clip_id(self.ytid, self.start_s)


@dataclass(frozen=True)
class RowProblem:
    line: int
    reason: str
    raw: str


@dataclass(frozen=True)
class ParsedList:
    path: str
    format: str
    rows: tuple[ListRow, ...]
    problems: tuple[RowProblem, ...]
    header_line: int | None = None
    warnings: tuple[RowProblem, ...] = ()  # kept rows worth a look (zero-length AVE events)

    def problem_lines(self) -> list[str]:
        return [f"{self.path}:{p.line}: {p.reason}" for p in self.problems]

    def warning_lines(self) -> list[str]:
        return [f"{self.path}:{p.line}: warning: {p.reason}" for p in self.warnings]


class _RowError(ValueError):
    pass


class TruncatedLine(str):
    """The start of a line that was longer than a reader keeps (reported, never parsed)."""


def decode_text(data: bytes) -> str:
    """UTF-8 with or without BOM; raises UnicodeDecodeError for anything else."""
    return data.decode("utf-8-sig")


def detect_format(lines: Iterable[str]) -> str:
    """Guess the format from the first non-blank line."""
    for line in lines:
        if not line.strip():
            continue
        if "&" in line and line.count("&") >= 4:
            return "ave"
        first = _split_csv(line)
        head = first[0].strip()
        if _FILE_RE.fullmatch(head) or head.lower() in {"filename", "file", "fname"}:
            return "vggsound-files"
        if head.lower() in {"video_id", "videoid"}:
            return "avel100k"
        return "vggsound"
    return "vggsound"


def _split_csv(line: str) -> list[str]:
    if '"' not in line:
        return line.split(",")
    return next(csv.reader([line], skipinitialspace=True))


def _is_header(fields: list[str]) -> bool:
    words = {f.strip().lower().replace(" ", "_").lstrip("#").strip("_") for f in fields}
    return len(words & _HEADER_WORDS) >= 2


def _label(text: str) -> str:
    return _checked_text(text, "label", MAX_LABEL_LEN)


def _checked_text(text: str, what: str, max_len: int) -> str:
    value = text.strip()
    if not value:
        raise _RowError(f"empty {what}")
    if _CONTROL_RE.search(value):
        raise _RowError(f"{what} contains control characters (line separators included)")
    if len(value) > max_len:
        raise _RowError(f"{what} is {len(value)} characters long; at most {max_len} are kept")
    return value


def _ytid(text: str) -> str:
    ytid = text.strip()
    if not is_valid_ytid(ytid):
        shown = ytid if len(ytid) <= 40 else ytid[:40] + "..."
        raise _RowError(f"bad YouTube id {shown!r} (expected 11 characters of A-Z a-z 0-9 _ -)")
    return ytid


def split_lines(text: str) -> list[str]:
    """The rows of a list: split at ``\n`` / ``\r\n`` only (not at U+2028, U+0085, ``\x0b``)."""
    lines = _LINE_END_RE.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _seconds(raw: str, what: str) -> int:
    """A whole number of seconds in ASCII digits (``30``, ``30.0``); anything else is refused."""
    match = _NUMBER_RE.fullmatch(raw)
    if match is None:
        shown = raw if len(raw) <= 40 else raw[:40] + "..."
        raise _RowError(f"{what} {shown!r} is not a number (use the digits 0-9)")
    if match.group(1):
        raise _RowError(f"{what} {raw!r} is negative")
    if (match.group(3) or "").strip("0"):
        raise _RowError(f"{what} {raw!r} is not a whole number of seconds")
    return int(match.group(2))


def _start(text: str) -> int:
    raw = text.strip()
    value = _seconds(raw, "start")
    if value > 999_999:
        raise _RowError(f"start {raw!r} is larger than 999999 s")
    return value


def _split(text: str, allowed: tuple[str, ...]) -> str:
    split = text.strip().lower()
    if split not in allowed:
        raise _RowError(f"unknown split {text.strip()!r} (expected one of {', '.join(allowed)})")
    return split


def _segments(text: str) -> str:
    bits = re.sub(r"[\[\]\s,;]", "", text)
    if len(bits) != N_SEGMENTS or set(bits) - {"0", "1"}:
        raise _RowError(f"segment labels {text.strip()!r} are not ten 0/1 values")
    return bits


def _whole_second(text: str, what: str) -> int:
    value = _seconds(text.strip(), what)
    if not 0 <= value <= AVE_CLIP_SECONDS:
        raise _RowError(f"{what} {value} is outside the 10-s clip (0..10)")
    return value


def _parse_vggsound(fields: list[str], line: int) -> ListRow:
    if len(fields) != 4:
        raise _RowError(f"expected 4 columns (ytid,start_s,label,split), found {len(fields)}")
    return ListRow(
        line=line,
        ytid=_ytid(fields[0]),
        start_s=_start(fields[1]),
        label=_label(fields[2]),
        split=_split(fields[3], ("train", "test")),
    )


def _parse_vggsound_files(fields: list[str], line: int) -> ListRow:
    if len(fields) != 2:
        raise _RowError(f"expected 2 columns (<ytid>_<start>.mp4,label), found {len(fields)}")
    name = fields[0].strip()
    match = _FILE_RE.fullmatch(name)
    if match is None:
        raise _RowError(f"file name {name[:60]!r} is not <11-char YouTube id>_<6-digit start>.mp4")
    return ListRow(
        line=line, ytid=match.group(1), start_s=int(match.group(2)), label=_label(fields[1])
    )


def _parse_ave(fields: list[str], line: int) -> ListRow:
    if len(fields) != 5:
        raise _RowError(
            f"expected 5 '&'-separated fields (Category&VideoID&Quality&StartTime&EndTime), "
            f"found {len(fields)}"
        )
    start = _whole_second(fields[3], "StartTime")
    end = _whole_second(fields[4], "EndTime")
    if end < start:
        raise _RowError(f"EndTime {end} is before StartTime {start}")
    quality = _checked_text(fields[2], "Quality", MAX_QUALITY_LEN)
    return ListRow(
        line=line,
        ytid=_ytid(fields[1]),
        start_s=0,
        label=_label(fields[0]),
        event=(start, end),
        quality=quality,
    )


def _parse_avel100k(fields: list[str], line: int) -> ListRow:
    if len(fields) not in (3, 4):
        raise _RowError(
            f"expected 3 or 4 columns (video_id,category,split[,labels]), found {len(fields)}"
        )
    vid = fields[0].strip()
    match = _CLIPID_RE.fullmatch(vid)
    if match is not None:
        ytid, start = match.group(1), int(match.group(2))
    else:
        ytid, start = _ytid(vid), None
    return ListRow(
        line=line,
        ytid=ytid,
        start_s=start,
        label=_label(fields[1]),
        split=_split(fields[2], ("train", "val", "test")),
        segments=_segments(fields[3]) if len(fields) == 4 else None,
    )


_PARSERS = {
    "vggsound": _parse_vggsound,
    "vggsound-files": _parse_vggsound_files,
    "ave": _parse_ave,
    "avel100k": _parse_avel100k,
}


def _too_long(line: str) -> bool:
    return isinstance(line, TruncatedLine) or len(line) > MAX_LINE_CHARS


def _shown(raw: str) -> str:
    return raw if len(raw) <= 120 else raw[:117] + "..."


def _check_path(path: str) -> None:
    if len(path) > MAX_PATH_LEN:
        raise ValueError(
            f"{path[:60]}...: the path is {len(path)} characters long; the store keeps at most "
            f"{MAX_PATH_LEN} (move or rename the list)"
        )


def _fields(raw: str, fmt: str, number: int) -> list[str] | RowProblem:
    """A line's fields, or the problem that keeps it from having any."""
    if _too_long(raw):
        return RowProblem(number, f"line is longer than {MAX_LINE_CHARS} characters", _shown(raw))
    if fmt == "ave":
        return raw.split("&")
    try:
        return _split_csv(raw)
    except csv.Error as e:
        return RowProblem(number, f"unreadable CSV: {e}", _shown(raw))


def _same_clip(previous: ListRow, row: ListRow, raw: str) -> RowProblem | None:
    """``None`` for an exact repeat of an earlier row (same clip, nothing new), else the
    conflict."""
    if (previous.label, previous.split, previous.segments) == (row.label, row.split, row.segments):
        return None
    return RowProblem(
        row.line,
        f"clip {row.clip_id or row.ytid} is already listed at line {previous.line} "
        f"with label {previous.label!r}, split {previous.split}",
        _shown(raw),
    )


def _zero_length(row: ListRow, raw: str) -> RowProblem | None:
    if row.event is None or row.event[0] != row.event[1]:
        return None
    return RowProblem(
        row.line,
        f"zero-length event (StartTime = EndTime = {row.event[0]}): kept, but it "
        "labels no second of the clip",
        _shown(raw),
    )


def parse_clip_list(path: str, text: str | Sequence[str], fmt: str | None = None) -> ParsedList:
    """Parse a whole clip list (its text, or its lines). Never raises for a bad row: it becomes a
    RowProblem. A path longer than the store keeps is a ValueError."""
    _check_path(path)
    lines = split_lines(text) if isinstance(text, str) else list(text)
    fmt = fmt or detect_format(line for line in lines if not _too_long(line))
    if fmt not in _PARSERS:
        raise ValueError(f"unknown clip-list format {fmt!r} (expected one of {', '.join(FORMATS)})")
    parser = _PARSERS[fmt]
    rows: list[ListRow] = []
    problems: list[RowProblem] = []
    warnings: list[RowProblem] = []
    header_line: int | None = None
    seen: dict[tuple[str, int | None], ListRow] = {}
    first = True
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        fields = _fields(raw, fmt, number)
        was_first, first = first, False
        if isinstance(fields, RowProblem):
            problems.append(fields)
            continue
        if was_first and _is_header(fields):
            header_line = number
            continue
        try:
            row = parser(fields, number)
        except _RowError as e:
            problems.append(RowProblem(number, str(e), _shown(raw)))
            continue
        previous = seen.get((row.ytid, row.start_s))
        if previous is not None and fmt != "ave":
            conflict = _same_clip(previous, row, raw)
            if conflict is not None:
                problems.append(conflict)
            continue
        seen.setdefault((row.ytid, row.start_s), row)
        rows.append(row)
        warning = _zero_length(row, raw)
        if warning is not None:
            warnings.append(warning)
    return ParsedList(
        path=path,
        format=fmt,
        rows=tuple(rows),
        problems=tuple(problems),
        header_line=header_line,
        warnings=tuple(warnings),
    )
