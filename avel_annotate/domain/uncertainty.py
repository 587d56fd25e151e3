"""How sure a prediction is: one confidence in [0, 1] per clip from the model's probabilities.

Pure functions over a clip's ten per-second event probabilities ``p_t`` and its category
distribution ``q`` (``C`` values summing to 1). High means sure; ``avel annotate push --order
uncertainty`` sends the lowest first. Every scorer maps to [0, 1] and is 1 for a one-hot
prediction (every ``p_t`` 0 or 1, one category at 1).

- ``margin`` (the first score): mean over seconds of ``|2 p_t - 1|`` times ``max q``.
- ``entropy``: one minus the mean of the normalised binary entropies of the seconds and the
  normalised entropy of ``q`` (the category counted as one more "second" of weight
  ``CATEGORY_WEIGHT``).
- ``expected-accuracy``: the model's own expectation of the segment accuracy of its labels:
  a second it calls an event is right when it is one *and* the category is right
  (``p_t max q``), a second it calls background when it is not an event (``1 - p_t``). This is
  the quantity the benchmark measures (segment accuracy), so a low value is where a human
  label changes the most seconds.

``docs/model.md`` has the benchmark that compares them (``benchmarks/bench_loop.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

CATEGORY_WEIGHT = 2.0  # the category counts as two seconds in the entropy score
EPS = 1e-12


def _arrays(event_prob: ArrayLike, category_prob: ArrayLike) -> tuple[NDArray, NDArray]:
    p = np.clip(np.asarray(event_prob, dtype=np.float64).ravel(), 0.0, 1.0)
    q = np.clip(np.asarray(category_prob, dtype=np.float64).ravel(), 0.0, None)
    if p.size == 0:
        raise ValueError("no per-second event probabilities")
    if q.size == 0:
        raise ValueError("no category probabilities")
    if not (np.isfinite(p).all() and np.isfinite(q).all()):
        raise ValueError("probabilities must be finite")
    total = q.sum()
    q = q / total if total > 0 else np.full(q.size, 1.0 / q.size)
    return p, q


def margin_score(event_prob: ArrayLike, category_prob: ArrayLike) -> float:
    p, q = _arrays(event_prob, category_prob)
    return float(np.clip(np.abs(2.0 * p - 1.0).mean() * q.max(), 0.0, 1.0))


def _binary_entropy(p: NDArray) -> NDArray:
    pc = np.clip(p, EPS, 1.0 - EPS)
    h = -(pc * np.log2(pc) + (1.0 - pc) * np.log2(1.0 - pc))
    return np.where((p <= 0.0) | (p >= 1.0), 0.0, h)


def entropy_score(event_prob: ArrayLike, category_prob: ArrayLike) -> float:
    p, q = _arrays(event_prob, category_prob)
    seconds = _binary_entropy(p)  # each in [0, 1] bit
    if q.size > 1:
        nz = q[q > 0]
        category = float(-(nz * np.log(nz)).sum() / math.log(q.size))
    else:
        category = 0.0
    mean = (seconds.sum() + CATEGORY_WEIGHT * category) / (p.size + CATEGORY_WEIGHT)
    return float(np.clip(1.0 - mean, 0.0, 1.0))


def expected_accuracy_score(event_prob: ArrayLike, category_prob: ArrayLike) -> float:
    p, q = _arrays(event_prob, category_prob)
    right = np.where(p >= 0.5, p * q.max(), 1.0 - p)
    return float(np.clip(right.mean(), 0.0, 1.0))


Scorer = Callable[[ArrayLike, ArrayLike], float]
SCORERS: dict[str, Scorer] = {
    "margin": margin_score,
    "entropy": entropy_score,
    "expected-accuracy": expected_accuracy_score,
}
DEFAULT_SCORER = "margin"


def score(event_prob: ArrayLike, category_prob: ArrayLike, method: str = DEFAULT_SCORER) -> float:
    """The confidence of one clip's prediction by ``method`` (one of ``SCORERS``)."""
    try:
        scorer = SCORERS[method]
    except KeyError:
        raise ValueError(f"unknown score {method!r}; use one of {', '.join(SCORERS)}") from None
    return scorer(event_prob, category_prob)


def disagreement(
    segments_a: str, category_a: str | None, segments_b: str, category_b: str | None
) -> float:
    """Share of the ten segment labels on which two predictions (e.g. two model versions)
    differ: a second differs when one calls it an event and the other not, or both do with
    different categories. 0 for identical labels, 1 when every second differs."""
    if len(segments_a) != len(segments_b) or not segments_a:
        raise ValueError("two segment strings of the same, non-zero length are needed")
    differ = 0
    for a, b in zip(segments_a, segments_b, strict=True):
        if a != b or (a == "1" and category_a != category_b):
            differ += 1
    return differ / len(segments_a)


def order_by_confidence(scores: Sequence[float | None]) -> list[int]:
    """Positions in push order for ``--order uncertainty``: lowest confidence first; positions
    without a score last, in their original order (a stable sort)."""
    return sorted(
        range(len(scores)),
        key=lambda i: (scores[i] is None, scores[i] if scores[i] is not None else 0.0),
    )


def order_balanced(scores: Sequence[float | None], groups: Sequence[str | None]) -> list[int]:
    """Positions in push order for ``--order balanced``: the least sure clip of each predicted
    category in turn, so that a batch is spread over the categories instead of filled from the
    ones the model is worst at. Within a group, lowest confidence first; the groups take turns
    in the order of their least sure clip (``None``, a prediction of background only, is a
    group of its own). Positions without a score come last, in their original order."""
    if len(scores) != len(groups):
        raise ValueError("one group per score is needed")
    by_group: dict[str | None, list[int]] = {}
    for i in order_by_confidence(scores):
        if scores[i] is not None:
            by_group.setdefault(groups[i], []).append(i)
    queues = list(by_group.values())  # dicts keep insertion order: least sure group first
    out: list[int] = []
    for turn in range(max((len(q) for q in queues), default=0)):
        out.extend(q[turn] for q in queues if turn < len(q))
    out.extend(i for i, s in enumerate(scores) if s is None)
    return out
