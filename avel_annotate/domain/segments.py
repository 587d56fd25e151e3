"""Ten per-second labels as a 10-character 0/1 string, and conversions around it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

N_SEGMENTS = 10
EMPTY = "0" * N_SEGMENTS


def from_events(events: Iterable[tuple[int, int]]) -> str:
    """Segments covered by events ``[start, end)``: second t is set when start <= t < end."""
    bits = [0] * N_SEGMENTS
    for start, end in events:
        for t in range(max(start, 0), min(end, N_SEGMENTS)):
            bits[t] = 1
    return "".join(map(str, bits))


def to_list(segments: str) -> list[int]:
    if len(segments) != N_SEGMENTS or set(segments) - {"0", "1"}:
        raise ValueError(f"segments {segments!r} is not ten 0/1 characters")
    return [int(c) for c in segments]


def from_list(values: Sequence[int | bool]) -> str:
    if len(values) != N_SEGMENTS:
        raise ValueError(f"expected {N_SEGMENTS} values, got {len(values)}")
    return "".join("1" if v else "0" for v in values)


def is_all_event(segments: str) -> bool:
    return segments == "1" * N_SEGMENTS
