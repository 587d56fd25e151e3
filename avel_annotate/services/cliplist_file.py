"""Reading a clip-list file for the one list parser (``domain.cliplist``).

The file is read as UTF-8 in memory bounded by the parser's line cap: a longer line is kept as
a short prefix (the parser reports it with its line number) and the rest is skipped unread.
Used by `avel clips import` and by the AVE split lists.
"""

from __future__ import annotations

from pathlib import Path

from avel_annotate.domain.cliplist import (
    FORMATS,
    MAX_LINE_CHARS,
    ParsedList,
    TruncatedLine,
    parse_clip_list,
)
from avel_annotate.errors import ClipListError, ConfigError


def read_clip_list(path: Path, fmt: str | None) -> ParsedList:
    if fmt is not None and fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}", f"use one of {', '.join(FORMATS)}")
    try:
        lines = _read_lines(path)
    except FileNotFoundError as e:
        raise ClipListError(f"{path}: no such file", hint="check the path") from e
    except OSError as e:
        raise ClipListError(f"{path}: cannot read: {e.strerror}") from e
    try:
        return parse_clip_list(str(path), lines, fmt)
    except ValueError as e:  # a path longer than the store keeps
        raise ClipListError(str(e)) from e


_MAX_LINE_BYTES = 4 * MAX_LINE_CHARS  # UTF-8: at most 4 bytes a character


def _read_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 list, split at \\n only, in memory bounded by the line cap: a longer
    line keeps its first 200 bytes (as a TruncatedLine, reported by the parser), the rest is
    read past in 1 MiB pieces and dropped."""
    lines: list[str] = []
    with path.open("rb") as fh:
        while True:
            chunk = fh.readline(_MAX_LINE_BYTES + 1)
            if not chunk:
                return lines
            number = len(lines) + 1
            if len(chunk) > _MAX_LINE_BYTES and not chunk.endswith(b"\n"):
                prefix = chunk[:200]
                while chunk and not chunk.endswith(b"\n"):
                    chunk = fh.readline(1 << 20)
                lines.append(TruncatedLine(prefix.decode("utf-8", "replace")))
                continue
            if chunk.endswith(b"\n"):
                chunk = chunk[:-2] if chunk.endswith(b"\r\n") else chunk[:-1]
            try:
                lines.append(chunk.decode("utf-8-sig" if number == 1 else "utf-8"))
            except UnicodeDecodeError as e:
                raise ClipListError(
                    f"{path}:{number}: not UTF-8 text",
                    hint="save the list as UTF-8 and import again",
                ) from e
