"""`avel split assign`: stratified, reproducible train/val/test assignment."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from avel_annotate.domain.splits import SplitCandidate, assign_splits, parse_ratios
from avel_annotate.errors import ConfigError
from avel_annotate.store import clips as q
from avel_annotate.store.database import Store

DEFAULT_RATIOS = "60/20/20"
DEFAULT_SEED = 0


@dataclass(frozen=True)
class SplitReport:
    ratios: str
    seed: int
    considered: int
    moved: int
    kept_list: int
    kept_annotated: int
    counts: dict[str, int]


def assign(
    store: Store,
    ratios: str = DEFAULT_RATIOS,
    seed: int = DEFAULT_SEED,
    *,
    include_list_splits: bool = False,
    force: bool = False,
) -> SplitReport:
    """Assign splits to clips without a list split (or all, with ``include_list_splits``).

    Clips that already have annotations keep their split unless ``force``.
    """
    try:
        fractions = parse_ratios(ratios)
    except ValueError as e:
        raise ConfigError(str(e), "write ratios like 60/20/20") from e
    with store.session() as session:
        rows = q.split_rows(session)
        kept_list = 0
        candidates = []
        for r in rows:
            if r.split_source == "list" and not include_list_splits:
                kept_list += 1
                continue
            locked = r.annotated and not force and r.split is not None
            candidates.append(SplitCandidate(r.clip_id, r.category, r.split, locked))
        result = assign_splits(candidates, fractions, seed)
        by_clip = {r.clip_id: r for r in rows}
        changes = []
        moved = 0
        for cid, split in result.items():
            old = by_clip[cid]
            if old.split != split or old.split_source != "assigned":
                changes.append((old.id, split))
                moved += old.split is not None and old.split != split
        q.set_splits(session, changes, seed, ratios)
    return SplitReport(
        ratios=ratios,
        seed=seed,
        considered=len(candidates),
        moved=moved,
        kept_list=kept_list,
        kept_annotated=sum(1 for c in candidates if c.locked),
        counts=dict(sorted(Counter(result.values()).items())),
    )
