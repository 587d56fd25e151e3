"""`avel clips import-split`: the AVE benchmark's train/val/test split of the Annotations rows.

The release splits *rows*: each Annotations row (a list event) gets its split, and the clip (one
per video) gets the split of its first row. All files are checked before anything is written.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from avel_annotate.errors import ClipListError, ConfigError, ModelError
from avel_annotate.services.cliplist_file import read_clip_list
from avel_annotate.store import clips as q
from avel_annotate.store.database import Store

SPLIT_FILES = {
    "train_order.h5": "train", "val_order.h5": "val", "test_order.h5": "test",
    "trainset.txt": "train", "valset.txt": "val", "testset.txt": "test",
}  # fmt: skip


@dataclass(frozen=True)
class SplitImportReport:
    files: list[str]
    rows_by_split: dict[str, int]
    clips_by_split: dict[str, int]
    rows_without_split: int
    clips_spanning_splits: int


def _split_of(path: Path) -> str:
    split = SPLIT_FILES.get(path.name.lower())
    if split is None:
        raise ConfigError(
            f"{path}: cannot tell the split from the file name",
            "pass the release's train_order.h5 / val_order.h5 / test_order.h5, or the AVE zip's "
            "trainSet.txt / valSet.txt / testSet.txt",
        )
    return split


def _rows_of_order_file(path: Path, events: list[q.EventRow]) -> list[int]:
    from avel_annotate.model.data import read_order_file  # torch + h5py: only when asked

    try:
        rows = read_order_file(path)
    except ModelError as e:
        raise ClipListError(e.message, hint=e.hint) from e
    if rows.size and int(rows.max()) >= len(events):
        raise ClipListError(
            f"{path}: names row {int(rows.max())}, but the store holds {len(events)} AVE "
            "Annotations rows (0.."
            f"{len(events) - 1})",
            hint="import the full Annotations.txt of the same release first",
        )
    return [events[int(i)].id for i in rows]


def _rows_of_set_file(path: Path, events: list[q.EventRow]) -> list[int]:
    parsed = read_clip_list(path, "ave")
    if parsed.problems:
        raise ClipListError(
            f"{path}: {len(parsed.problems)} bad row(s); no split was set",
            problems=parsed.problem_lines(),
            hint="the split lists have the Annotations.txt format",
        )
    index: dict[tuple[str, str, int, int], list[int]] = defaultdict(list)
    for e in events:
        index[(e.ytid, e.category, e.start_s, e.end_s)].append(e.id)
    used: dict[tuple[str, str, int, int], int] = defaultdict(int)
    out: list[int] = []
    missing: list[str] = []
    for row in parsed.rows:
        assert row.event is not None
        key = (row.ytid, row.label, *row.event)
        ids = index.get(key, [])
        if used[key] >= len(ids):
            missing.append(f"{path}:{row.line}: no stored AVE row {row.label}&{row.ytid}&"
                           f"{row.event[0]}&{row.event[1]}")  # fmt: skip
            continue
        out.append(ids[used[key]])
        used[key] += 1
    if missing:
        raise ClipListError(
            f"{path}: {len(missing)} row(s) match no stored Annotations row; no split was set",
            problems=missing,
            hint="import the Annotations.txt these split lists belong to first",
        )
    return out


def _assign_rows(paths: list[Path], events: list[q.EventRow]) -> dict[int, str]:
    """Each Annotations row named by a split file -> its split; a row in two splits refuses."""
    by_id = {e.id: e for e in events}
    assigned: dict[int, str] = {}
    for path in paths:
        if not path.is_file():
            raise ClipListError(f"{path}: no such file", hint="check the path")
        split = _split_of(path)
        ids = (
            _rows_of_order_file(path, events)
            if path.suffix.lower() == ".h5"
            else _rows_of_set_file(path, events)
        )
        for event_id in ids:
            other = assigned.get(event_id)
            if other is not None and other != split:
                e = by_id[event_id]
                raise ClipListError(
                    f"{path}: Annotations row {e.source_line} ({e.category}&{e.ytid}) is "
                    f"already in split {other}; no split was set",
                    hint="pass the three split files of one release",
                )
            assigned[event_id] = split
    return assigned


def _count(values: list[str]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for v in values:
        out[v] += 1
    return dict(out)


def import_ave_split(store: Store, paths: list[Path]) -> SplitImportReport:
    """Set the AVE benchmark split from the release's ``*_order.h5`` files (row i = row i of
    Annotations.txt) or the zip's ``trainSet.txt``/``valSet.txt``/``testSet.txt``.

    Videos whose rows sit in different splits are counted in ``clips_spanning_splits``.
    """
    with store.session() as session:
        events = q.event_rows(session, source_format="ave")
        if not events:
            raise ConfigError(
                "the store holds no AVE Annotations rows",
                "import Annotations.txt first (`avel clips import Annotations.txt`)",
            )
        assigned = _assign_rows(paths, events)
        q.set_event_splits(session, assigned)
        first: dict[int, str] = {}
        splits_of_clip: dict[int, set[str]] = defaultdict(set)
        for e in events:  # list order: a clip's first row comes first
            split_e = assigned.get(e.id, e.split)
            if split_e is not None:
                first.setdefault(e.clip_pk, split_e)
                splits_of_clip[e.clip_pk].add(split_e)
        q.set_list_splits(session, sorted(first.items()))
    return SplitImportReport(
        files=[str(p) for p in paths],
        rows_by_split=_count(list(assigned.values())),
        clips_by_split=_count(list(first.values())),
        rows_without_split=sum(1 for e in events if assigned.get(e.id, e.split) is None),
        clips_spanning_splits=sum(1 for s in splits_of_clip.values() if len(s) > 1),
    )
