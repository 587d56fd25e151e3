"""Inter-annotator agreement on ten 0/1 labels and a category. Pure.

Per-second figures are pooled: every pair of annotations of a clip gives ten second-pairs, and
percent agreement and Cohen's kappa are computed over all ``10 x N`` of them. Kappa is
``(p_o - p_e) / (1 - p_e)`` with ``p_e`` from the two raters' marginal frequencies; it is
undefined (``None``) when ``p_e == 1`` (both raters used one and the same label throughout).
Category agreement is the fraction of pairs with the same category (``None`` == ``None`` counts
as agreeing), with its own kappa over the categories.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass

from avel_annotate.domain.segments import to_list


@dataclass(frozen=True)
class LabelPair:
    """Two labellings of one clip: ``a`` (first pass, or a model) and ``b`` (the re-check)."""

    a_segments: str
    b_segments: str
    a_category: str | None = None
    b_category: str | None = None

    @property
    def agrees(self) -> bool:
        return self.a_segments == self.b_segments and self.a_category == self.b_category


@dataclass(frozen=True)
class Figures:
    n_pairs: int
    n_seconds: int
    percent_agreement: float | None  # 0..100, pooled over second-pairs
    kappa: float | None  # pooled per-second Cohen's kappa
    category_agreement: float | None  # 0..100
    category_kappa: float | None
    exact_agreement: float | None  # 0..100: pairs equal in all ten seconds and the category


def percent_agreement(x: Sequence[Hashable], y: Sequence[Hashable]) -> float | None:
    """Percentage of positions where the two sequences agree; None for empty input."""
    _check(x, y)
    if not x:
        return None
    return 100.0 * sum(1 for a, b in zip(x, y, strict=True) if a == b) / len(x)


def cohen_kappa(x: Sequence[Hashable], y: Sequence[Hashable]) -> float | None:
    """Cohen's kappa of two raters over the same items; None when empty or p_e == 1."""
    _check(x, y)
    n = len(x)
    if n == 0:
        return None
    p_o = sum(1 for a, b in zip(x, y, strict=True) if a == b) / n
    cx, cy = Counter(x), Counter(y)
    p_e = sum(cx[k] * cy[k] for k in cx) / (n * n)
    if p_e >= 1.0:
        return None
    return (p_o - p_e) / (1.0 - p_e)


def _check(x: Sequence[Hashable], y: Sequence[Hashable]) -> None:
    if len(x) != len(y):
        raise ValueError(f"rater sequences differ in length: {len(x)} != {len(y)}")


def second_pairs(pairs: Iterable[LabelPair]) -> tuple[list[int], list[int]]:
    """The pooled per-second labels of both raters (ten per pair)."""
    xs: list[int] = []
    ys: list[int] = []
    for p in pairs:
        xs.extend(to_list(p.a_segments))
        ys.extend(to_list(p.b_segments))
    return xs, ys


def figures(pairs: Sequence[LabelPair]) -> Figures:
    xs, ys = second_pairs(pairs)
    ca = ["" if p.a_category is None else p.a_category for p in pairs]
    cb = ["" if p.b_category is None else p.b_category for p in pairs]
    exact = 100.0 * sum(p.agrees for p in pairs) / len(pairs) if pairs else None
    return Figures(
        n_pairs=len(pairs),
        n_seconds=len(xs),
        percent_agreement=percent_agreement(xs, ys),
        kappa=cohen_kappa(xs, ys),
        category_agreement=percent_agreement(ca, cb),
        category_kappa=cohen_kappa(ca, cb),
        exact_agreement=exact,
    )


def grouped_figures(
    pairs: Sequence[LabelPair], keys: Callable[[int, LabelPair], Iterable[str]]
) -> dict[str, Figures]:
    """Figures per group; ``keys(i, pair)`` names the group(s) pair ``i`` belongs to."""
    groups: dict[str, list[LabelPair]] = defaultdict(list)
    for i, pair in enumerate(pairs):
        for key in set(keys(i, pair)):
            groups[key].append(pair)
    return {k: figures(v) for k, v in sorted(groups.items())}


def differing_seconds(a: str, b: str) -> list[int]:
    return [t for t, (x, y) in enumerate(zip(to_list(a), to_list(b), strict=True)) if x != y]
