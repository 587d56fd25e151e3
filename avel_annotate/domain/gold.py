"""Gold clips: the expert file, the mixing plan, accuracy on gold and acceptance bias. Pure.

**The gold file** (``avel annotate gold add FILE``) is a CSV with the header
``clip_id,segments,category``: one clip per row, ``segments`` ten ``0``/``1`` characters (second
t is character t), ``category`` a category of the store (empty only when no second is an event).

**Mixing** (``annotate push --gold-rate R``): a push of N ordinary tasks carries
``round(N * R)`` gold task copies (half up), at seeded random places among them, the gold clips
taken fewest-copies-first. Copies only ride along with real work: a push of no new tasks adds none.

**Accuracy on gold**: per annotator, over their usable answers (not skipped, not deleted) to gold
task copies: the share of the ten seconds equal to the gold label, of categories equal, of
answers equal in all. An annotator with at least ``min_answers`` answers is flagged when the
seconds or the category share is under the threshold; with fewer, they are "too few to judge".

**Acceptance bias**: a task that carried a prediction of model M, whose submitted labels equal the
prediction's (all ten seconds and the category), is *kept*. Against it: how often that prediction
was right (equal to the truth) where the truth is known, on gold (the gold label) and on
re-checked clips (the curated label after an agreed or adjudicated re-check).
"""

from __future__ import annotations

import csv
import io
import random
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from avel_annotate.domain.segments import N_SEGMENTS
from avel_annotate.errors import ConfigError

GOLD_HEADER = ("clip_id", "segments", "category")
DEFAULT_GOLD_RATE = 0.05  # one gold copy in twenty tasks
DEFAULT_GOLD_THRESHOLD = 0.8  # flag under 80 % of seconds or categories right
DEFAULT_MIN_ANSWERS = 3
FILE_HINT = (
    "each row is clip_id,segments,category: a clip of the store, ten 0/1 characters, a category "
    "of the store; fix the row and run again (nothing was stored)"
)


@dataclass(frozen=True)
class GoldRow:
    line: int
    clip_id: str
    segments: str
    category: str | None


def parse_gold_file(
    text: str, name: str, clip_ids: Collection[str], categories: Collection[str]
) -> list[GoldRow]:
    """The rows of a gold file, or a one-line ``ConfigError`` naming file and line."""
    rows: list[GoldRow] = []
    seen: dict[str, int] = {}
    reader = csv.reader(io.StringIO(text))
    for index, fields in enumerate(reader):
        line = reader.line_num
        cells = [f.strip() for f in fields]
        if index == 0:
            if tuple(c.lower() for c in cells) != GOLD_HEADER:
                raise ConfigError(
                    f"{name}:{line}: header is {','.join(cells)!r}, expected "
                    f"{','.join(GOLD_HEADER)!r}",
                    "make the first line clip_id,segments,category",
                )
            continue
        if not any(cells):
            continue
        where = f"{name}:{line}"
        if len(cells) != len(GOLD_HEADER):
            raise ConfigError(f"{where}: {len(cells)} fields, expected 3", FILE_HINT)
        clip_id, segments, category = cells
        if clip_id not in clip_ids:
            raise ConfigError(
                f"{where}: clip {clip_id!r} is not in the store",
                "import it with `avel clips import` first, or fix the clip id",
            )
        if len(segments) != N_SEGMENTS or set(segments) - {"0", "1"}:
            raise ConfigError(
                f"{where}: segments {segments!r} is not ten 0/1 characters", FILE_HINT
            )
        if category and category not in categories:
            raise ConfigError(
                f"{where}: unknown category {category!r}",
                "use a category of the store (see `avel clips stats`)",
            )
        if not category and "1" in segments:
            raise ConfigError(f"{where}: event seconds without a category", FILE_HINT)
        if clip_id in seen:
            raise ConfigError(
                f"{where}: clip {clip_id} is already on line {seen[clip_id]}",
                "keep one row per clip",
            )
        seen[clip_id] = line
        rows.append(GoldRow(line, clip_id, segments, category or None))
    if not rows and not seen:
        raise ConfigError(f"{name}: no gold rows", "add rows under the header")
    return rows


def gold_copy_count(n_tasks: int, rate: float) -> int:
    """Gold copies that ride along with ``n_tasks`` ordinary tasks (half up)."""
    if n_tasks <= 0 or rate <= 0:
        return 0
    return int(n_tasks * rate + 0.5)


def plan_mix(n_tasks: int, gold_copies: dict[int, int], rate: float, seed: int) -> list[int | None]:
    """The order of a push: ``None`` for the next ordinary task, a clip pk for a gold copy.

    ``gold_copies`` is ``gold clip pk -> copies it has in the project already``; the clips with
    the fewest copies go first (ties in seeded random order), cycling when more are needed.
    """
    k = gold_copy_count(n_tasks, rate) if gold_copies else 0
    rng = random.Random(seed)
    counts = dict(gold_copies)
    picks: list[int] = []
    tie = {pk: rng.random() for pk in counts}
    for _ in range(k):
        pk = min(counts, key=lambda p: (counts[p], tie[p], p))
        picks.append(pk)
        counts[pk] += 1
    slots = set(rng.sample(range(n_tasks + k), k)) if k else set()
    out: list[int | None] = []
    it = iter(picks)
    for i in range(n_tasks + k):
        out.append(next(it) if i in slots else None)
    return out


# -- accuracy on gold ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GoldComparison:
    annotator: str
    segments: str
    category: str | None
    gold_segments: str
    gold_category: str | None


@dataclass(frozen=True)
class AnnotatorGold:
    annotator: str
    answers: int
    seconds_right: int
    seconds_total: int
    categories_right: int
    exact: int
    seconds_pct: float
    category_pct: float
    exact_pct: float
    wrong_seconds_at: list[int] = field(default_factory=list)  # per second t: answers wrong there
    status: str = "ok"  # ok | flagged | too few


def _pct(n: int, d: int) -> float:
    return round(100.0 * n / d, 1) if d else 0.0


def score_gold(
    comparisons: Sequence[GoldComparison],
    threshold: float = DEFAULT_GOLD_THRESHOLD,
    min_answers: int = DEFAULT_MIN_ANSWERS,
) -> list[AnnotatorGold]:
    """Each annotator's accuracy on gold, in annotator order."""
    by: dict[str, list[GoldComparison]] = defaultdict(list)
    for c in comparisons:
        by[c.annotator].append(c)
    out = []
    for who in sorted(by):
        items = by[who]
        wrong_at = [0] * N_SEGMENTS
        for c in items:
            for t in range(N_SEGMENTS):
                wrong_at[t] += c.segments[t] != c.gold_segments[t]
        n = len(items)
        seconds = N_SEGMENTS * n - sum(wrong_at)
        cats = sum(c.category == c.gold_category for c in items)
        exact = sum(c.segments == c.gold_segments and c.category == c.gold_category for c in items)
        sec_pct, cat_pct = _pct(seconds, N_SEGMENTS * n), _pct(cats, n)
        if n < min_answers:
            status = "too few"
        elif sec_pct < 100 * threshold or cat_pct < 100 * threshold:
            status = "flagged"
        else:
            status = "ok"
        out.append(
            AnnotatorGold(
                who,
                n,
                seconds,
                N_SEGMENTS * n,
                cats,
                exact,
                sec_pct,
                cat_pct,
                _pct(exact, n),
                wrong_at,
                status,
            )
        )
    return out


# -- acceptance bias ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Prefilled:
    """One submitted annotation of a task that carried a prediction.

    ``truth_kind`` is ``gold`` or ``recheck`` where the truth is known, else None.
    """

    annotator: str
    segments: str
    category: str | None
    pred_segments: str
    pred_category: str | None
    truth_kind: str | None = None
    truth_segments: str | None = None
    truth_category: str | None = None

    @property
    def kept(self) -> bool:
        return (self.segments, self.category) == (self.pred_segments, self.pred_category)

    @property
    def prediction_right(self) -> bool | None:
        if self.truth_kind is None:
            return None
        return (self.pred_segments, self.pred_category) == (
            self.truth_segments,
            self.truth_category,
        )


@dataclass(frozen=True)
class TruthFigures:
    """On tasks of one kind of known truth: how often the prediction was right, and kept."""

    tasks: int
    prediction_right: int
    kept: int
    kept_when_wrong: int  # the prediction was wrong and the annotator kept it
    prediction_right_pct: float
    kept_pct: float


@dataclass(frozen=True)
class Acceptance:
    annotator: str
    prefilled: int  # submitted annotations of tasks that carried a prediction
    kept: int  # of them, equal to the prediction in all ten seconds and the category
    kept_pct: float
    on_gold: TruthFigures
    on_rechecked: TruthFigures


def _truth(items: Sequence[Prefilled]) -> TruthFigures:
    right = sum(bool(p.prediction_right) for p in items)
    kept = sum(p.kept for p in items)
    kept_wrong = sum(p.kept and not p.prediction_right for p in items)
    n = len(items)
    return TruthFigures(n, right, kept, kept_wrong, _pct(right, n), _pct(kept, n))


def acceptance_bias(items: Sequence[Prefilled]) -> list[Acceptance]:
    """Per annotator: kept predictions, against the prediction's accuracy where truth is known."""
    by: dict[str, list[Prefilled]] = defaultdict(list)
    for p in items:
        by[p.annotator].append(p)
    out = []
    for who in sorted(by):
        mine = by[who]
        kept = sum(p.kept for p in mine)
        out.append(
            Acceptance(
                who,
                len(mine),
                kept,
                _pct(kept, len(mine)),
                _truth([p for p in mine if p.truth_kind == "gold"]),
                _truth([p for p in mine if p.truth_kind == "recheck"]),
            )
        )
    return out
