"""The reproducible re-check draw: a fraction of labelled tasks, stratified by category. Pure.

Each stratum (category) gives ``floor(fraction * n)`` tasks; the remaining places, up to
``round(fraction * N)`` over all ``N`` candidates, go to the strata with the largest remainders
(ties: stratum name). Within a stratum the keys are sorted and shuffled by a generator seeded
with ``f"{seed}:{stratum}"``, so the same candidates and seed always give the same draw, and
adding a category does not change the draw of the others.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Sequence


def draw_recheck(candidates: Sequence[tuple[int, str]], fraction: float, seed: int) -> list[int]:
    """Keys drawn from ``(key, stratum)`` candidates, sorted. Keys must be unique."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction {fraction} is not between 0 and 1")
    keys = [k for k, _ in candidates]
    if len(set(keys)) != len(keys):
        raise ValueError("candidate keys are not unique")
    strata: dict[str, list[int]] = defaultdict(list)
    for key, stratum in candidates:
        strata[stratum].append(key)
    total = math.floor(fraction * len(candidates) + 0.5)
    quota = {s: math.floor(fraction * len(v)) for s, v in strata.items()}
    left = total - sum(quota.values())
    by_remainder = sorted(strata, key=lambda s: (-(fraction * len(strata[s]) - quota[s]), s))
    for s in by_remainder[: max(left, 0)]:
        quota[s] += 1
    drawn: list[int] = []
    for stratum, members in strata.items():
        members = sorted(members)
        random.Random(f"{seed}:{stratum}").shuffle(members)
        drawn.extend(members[: quota[stratum]])
    return sorted(drawn)
