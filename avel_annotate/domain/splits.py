"""Reproducible train/val/test assignment, stratified by category.

Each clip gets a rank from ``sha256(seed:clip_id)``; within a category, clips are taken in rank
order and dealt to the splits so that every split's count matches its ratio (largest remainder).
A clip's rank does not depend on the other clips, so adding clips later moves few existing ones,
and the same seed and inputs always give the same answer. Locked clips (already annotated) keep
their split and count towards its quota.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

SPLIT_NAMES = ("train", "val", "test")


@dataclass(frozen=True)
class SplitCandidate:
    clip_id: str
    category: str | None
    current: str | None
    locked: bool = False


def parse_ratios(text: str) -> tuple[float, float, float]:
    """``"60/20/20"`` or ``"0.6,0.2,0.2"`` -> fractions summing to 1."""
    parts = [p for p in text.replace(",", "/").split("/") if p.strip()]
    if len(parts) != 3:
        raise ValueError(f"ratios {text!r}: expected three numbers like 60/20/20")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"ratios {text!r}: expected three numbers like 60/20/20") from None
    if any(v < 0 for v in values) or sum(values) <= 0:
        raise ValueError(f"ratios {text!r}: must be non-negative and not all zero")
    total = sum(values)
    a, b, c = (v / total for v in values)
    return a, b, c


def _quotas(n: int, ratios: Sequence[float]) -> list[int]:
    exact = [n * r for r in ratios]
    quotas = [int(x) for x in exact]
    order = sorted(range(len(ratios)), key=lambda i: (-(exact[i] - quotas[i]), i))
    for i in order[: n - sum(quotas)]:
        quotas[i] += 1
    return quotas


def _rank(seed: int, clip_id: str) -> bytes:
    return hashlib.sha256(f"{seed}:{clip_id}".encode()).digest()


def assign_splits(
    candidates: Sequence[SplitCandidate], ratios: Sequence[float], seed: int
) -> dict[str, str]:
    """Return ``clip_id -> split`` for every candidate (locked clips map to their current split)."""
    by_category: dict[str | None, list[SplitCandidate]] = defaultdict(list)
    for cand in candidates:
        by_category[cand.category].append(cand)
    result: dict[str, str] = {}
    for members in by_category.values():
        quotas = _quotas(len(members), ratios)
        for cand in members:
            if cand.locked and cand.current in SPLIT_NAMES:
                result[cand.clip_id] = cand.current
                quotas[SPLIT_NAMES.index(cand.current)] -= 1
        free = sorted(
            (c for c in members if c.clip_id not in result), key=lambda c: _rank(seed, c.clip_id)
        )
        # locked clips may have over-filled a split; the free clips then run out early
        quotas = [max(q, 0) for q in quotas]
        i = 0
        for split, quota in zip(SPLIT_NAMES, quotas, strict=True):
            for cand in free[i : i + quota]:
                result[cand.clip_id] = split
            i += quota
    return result
