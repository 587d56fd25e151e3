"""`avel export`: the authors' AVE h5 layout, an AVEL100k-style CSV, JSON lines, a dataset card."""

from __future__ import annotations

import csv
import json
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from avel_annotate import fileio
from avel_annotate.config import Settings
from avel_annotate.domain import segments as seg
from avel_annotate.domain.dataset_card import SPLIT_ORDER, render_dataset_card
from avel_annotate.domain.ids import parse_clip_id
from avel_annotate.errors import ConfigError, ConflictError, FeatureError
from avel_annotate.features.ave_h5 import export_ave_h5, write_h5_array
from avel_annotate.services.model_registry import pick_extractor
from avel_annotate.store import annotations as aq
from avel_annotate.store import clips as cq
from avel_annotate.store import export as q
from avel_annotate.store.annotations import CuratedRow
from avel_annotate.store.clips import category_names
from avel_annotate.store.database import Store

log = logging.getLogger(__name__)
FORMATS = ("ave-h5", "csv", "jsonl")


@dataclass(frozen=True)
class ExportReport:
    format: str
    out: str
    files: list[str]
    clips: int
    by_split: dict[str, int]
    card: str


def _rows(store: Store, split: str | None, labels: str) -> list[CuratedRow]:
    if labels not in ("curated", "list"):
        raise ConfigError(f"unknown label source {labels!r}", "use curated or list")
    with store.session() as session:
        if labels == "curated":
            rows = aq.curated_rows(session, split)
        else:
            rows = q.list_label_rows(session, split)
    if not rows:
        raise ConfigError(
            f"no clips with {labels} labels" + (f" in split {split!r}" if split else ""),
            "annotate, pull and curate first (`avel annotate pull`)",
        )
    rows.sort(key=lambda r: (SPLIT_ORDER.get(r.split or "", 3), r.clip_pk))
    return rows


@dataclass(frozen=True)
class AveRow:
    """One row of an AVE h5 export: a clip, or (``--labels list``) one Annotations row of it."""

    row: CuratedRow
    quality: str
    start: int
    end: int


def ave_rows(
    store: Store, rows: list[CuratedRow], labels: str, split: str | None = None
) -> list[AveRow]:
    """The rows of an ``ave-h5`` export, in file order.

    Curated labels: one row per clip (a clip's curated label has one category). List labels: a
    clip whose list gave events (AVE Annotations) becomes one row per event, with that event's
    category, seconds and benchmark split, in list order; so an AVE-imported store gives back the
    release's 4,143 rows in Annotations order, and its order files select the release's rows.
    Clips without list events follow, one row each. ``split`` keeps the rows of that split.
    """
    out: list[AveRow] = []
    if labels == "list":
        with store.session() as session:
            events = cq.event_rows(session, [r.clip_pk for r in rows])
        by_pk = {r.clip_pk: r for r in rows}
        for e in events:
            clip = by_pk[e.clip_pk]
            bits = seg.from_events([(e.start_s, e.end_s)])
            row = CuratedRow(e.clip_pk, clip.clip_id, e.split or clip.split, bits, e.category,
                             "list", [])  # fmt: skip
            out.append(AveRow(row, e.quality or "list", e.start_s, e.end_s))
        with_events = {e.clip_pk for e in events}
        rows = [r for r in rows if r.clip_pk not in with_events]
    for r in rows:
        start, end = _event_hull(r.segments)
        out.append(AveRow(r, "curated" if labels == "curated" else "list", start, end))
    return [a for a in out if split is None or a.row.split == split]


def _event_hull(segments: str) -> tuple[int, int]:
    ones = [t for t, c in enumerate(segments) if c == "1"]
    return (ones[0], ones[-1] + 1) if ones else (0, 0)


def _export_ave(
    store: Store,
    settings: Settings,
    clip_rows: list[CuratedRow],
    out: Path,
    features: str | None,
    allow_random: bool,
    labels: str = "curated",
    split: str | None = None,
) -> tuple[list[Path], list[CuratedRow]]:
    planned = ave_rows(store, clip_rows, labels, split)
    if not planned:
        raise ConfigError(f"no {labels}-labelled rows in split {split!r}", "check --split")
    rows = [a.row for a in planned]
    with store.session() as session:
        extractor = pick_extractor(session, features)
        paths = q.feature_paths(session, [r.clip_pk for r in rows], extractor)
        categories = category_names(session)
    missing = [r.clip_id for r in rows if r.clip_pk not in paths]
    if missing:
        raise FeatureError(
            f"{len(missing)} labelled clip(s) have no {extractor} features (first: {missing[0]})",
            "run `avel features extract` first",
        )
    out.mkdir(parents=True, exist_ok=True)
    export_ave_h5(
        [settings.data_dir / paths[r.clip_pk] for r in rows],
        out / "visual_feature.h5",
        out / "audio_feature.h5",
        allow_random=allow_random,
    )
    written = [out / n for n in ("visual_feature.h5", "audio_feature.h5")]
    return [*written, *_write_ave_labels(out, planned, categories)], rows


def ave_onehot(planned: list[AveRow], categories: list[str]) -> np.ndarray:
    """The release's ``labels.h5`` array: [rows, 10, C + 1] one-hot, background last."""
    c = len(categories)
    index = {name: i for i, name in enumerate(categories)}
    onehot = np.zeros((len(planned), 10, c + 1), dtype=np.float64)
    for i, a in enumerate(planned):
        cat = index.get(a.row.category) if a.row.category else None
        for t, bit in enumerate(a.row.segments):
            onehot[i, t, cat if bit == "1" and cat is not None else c] = 1.0
    return onehot


def _write_ave_labels(out: Path, planned: list[AveRow], categories: list[str]) -> list[Path]:
    """``labels.h5``, the split order files, ``Annotations.txt``, ``categories.txt`` and
    ``clips.csv`` of an ave-h5 export, each written atomically."""
    rows = [a.row for a in planned]
    write_h5_array(out / "labels.h5", ave_onehot(planned, categories))
    written = [out / "labels.h5"]
    for split in SPLIT_ORDER:
        order = np.asarray([i for i, r in enumerate(rows) if r.split == split], dtype=np.int64)
        if order.size:
            write_h5_array(out / f"{split}_order.h5", order, key="order")
            written.append(out / f"{split}_order.h5")
    lines = []
    for a in planned:
        ytid, _ = parse_clip_id(a.row.clip_id)
        lines.append(f"{a.row.category or 'background'}&{ytid}&{a.quality}&{a.start}&{a.end}")
    fileio.write_text(
        out / "Annotations.txt",
        "Category&VideoID&Quality&StartTime&EndTime\n" + "\n".join(lines) + "\n",
    )
    fileio.write_text(out / "categories.txt", "\n".join(categories) + "\n")
    fileio.write_text(
        out / "clips.csv",
        "row,clip_id,split,segments\n"
        + "".join(f"{i},{r.clip_id},{r.split},{r.segments}\n" for i, r in enumerate(rows)),
    )
    return [*written, out / "Annotations.txt", out / "categories.txt", out / "clips.csv"]


def _export_csv(rows: list[CuratedRow], path: Path) -> list[Path]:
    with fileio.atomic_open(path) as fh:
        writer = csv.writer(fh)
        writer.writerow(["video_id", "category", "split", "labels"])
        for r in rows:
            bits = "[" + ",".join(r.segments) + "]"
            writer.writerow([r.clip_id, r.category or "", r.split or "", bits])
    return [path]


def _annotation_record(a: aq.AnnotationRow) -> dict[str, Any]:
    return {
        "annotator": a.annotator,
        "round": a.round,
        "segments": a.segments,
        "category": a.category,
        "cancelled": a.was_cancelled,
        "deleted": a.deleted,
    }


def _model_agreement(
    r: CuratedRow, predictions: dict[str, dict[int, tuple[str, str | None]]]
) -> dict[str, Any]:
    """Per model version that predicted the clip: seconds agreeing and category agreement."""
    agreement = {}
    for version, preds in predictions.items():
        if r.clip_pk in preds:
            segs, cat = preds[r.clip_pk]
            agreement[version] = {
                "seconds_agreeing": sum(a == b for a, b in zip(segs, r.segments, strict=True)),
                "category_agrees": cat == r.category,
            }
    return agreement


def _export_jsonl(store: Store, rows: list[CuratedRow], path: Path) -> list[Path]:
    pks = [r.clip_pk for r in rows]
    with store.session() as session:
        annotations = aq.annotation_rows(session, pks)
        drawn = aq.drawn_clip_pks(session)
        predictions = aq.predictions_by_version(session, pks)
    by_clip: dict[int, list[aq.AnnotationRow]] = defaultdict(list)
    for a in annotations:
        by_clip[a.clip_pk].append(a)
    with fileio.atomic_open(path) as fh:
        for r in rows:
            ytid, start = parse_clip_id(r.clip_id)
            record = {
                "clip_id": r.clip_id,
                "ytid": ytid,
                "start_s": start,
                "split": r.split,
                "category": r.category,
                "segments": [int(c) for c in r.segments],
                "label_source": r.provenance,
                "annotations": [_annotation_record(a) for a in by_clip.get(r.clip_pk, [])],
                "qc": {"rechecked": r.clip_pk in drawn},
                "model_agreement": _model_agreement(r, predictions),
            }
            fh.write(json.dumps(record, sort_keys=True) + "\n")
    return [path]


# Every file an ave-h5 export may write into its folder (the split orders only for splits present).
AVE_FILES = (
    "visual_feature.h5",
    "audio_feature.h5",
    "labels.h5",
    *(f"{s}_order.h5" for s in SPLIT_ORDER),
    "Annotations.txt",
    "categories.txt",
    "clips.csv",
    "DATASET_CARD.md",
)


def _outputs(fmt: str, out: Path) -> list[Path]:
    """The files an export writes. A CSV and a JSONL export into one folder each have their own
    card (``labels.csv.card.md``, ``labels.jsonl.card.md``), so neither replaces the other's."""
    if fmt == "ave-h5":
        return [out / name for name in AVE_FILES]
    target = out if out.suffix == f".{fmt}" else out / f"labels.{fmt}"
    return [target, target.with_name(f"{target.name}.card.md")]


def _refuse_overwrite(fmt: str, out: Path) -> None:
    existing = [p for p in _outputs(fmt, out) if p.exists()]
    if existing:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise ConflictError(
            f"export would overwrite {existing[0]}{more}; nothing was written",
            "pass --force to replace them, or export to another folder",
        )


@dataclass(frozen=True)
class ExportOptions:
    """What `avel export` writes besides the format and folder (the CLI's defaults)."""

    split: str | None = None  # None: every split
    labels: str = "curated"  # curated | list
    features: str | None = None  # feature kind of an ave-h5 export (default: the only one)
    allow_random_features: bool = False
    force: bool = False  # replace existing export files


def _write(
    store: Store,
    settings: Settings,
    fmt: str,
    out: Path,
    rows: list[CuratedRow],
    o: ExportOptions,
) -> tuple[list[Path], list[CuratedRow], Path]:
    """Write the export's data files; returns them, the rows written and the card's path."""
    if fmt == "ave-h5":
        files, rows = _export_ave(store, settings, rows, out, o.features,
                                  o.allow_random_features, o.labels, o.split)  # fmt: skip
        return files, rows, out / "DATASET_CARD.md"
    target = out if out.suffix == f".{fmt}" else out / f"labels.{fmt}"
    files = _export_csv(rows, target) if fmt == "csv" else _export_jsonl(store, rows, target)
    return files, rows, target.with_name(f"{target.name}.card.md")


def export(
    store: Store,
    settings: Settings,
    fmt: str,
    out: Path,
    options: ExportOptions | None = None,
) -> ExportReport:
    """Write the labelled clips of ``options.split`` (or all splits) in ``fmt`` under ``out``.

    Existing output files are never replaced unless ``options.force``.
    """
    o = options or ExportOptions()
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}", f"use one of {', '.join(FORMATS)}")
    if not o.force:
        _refuse_overwrite(fmt, out)
    # AVE rows of list labels carry their own split
    rows = _rows(store, None if fmt == "ave-h5" and o.labels == "list" else o.split, o.labels)
    files, rows, card = _write(store, settings, fmt, out, rows, o)
    agreement = None
    if o.labels == "curated":
        from avel_annotate.services.qc import qc_report

        agreement = qc_report(store).overall.__dict__
    fileio.write_text(card, render_dataset_card(rows, o.labels, fmt, agreement))
    return ExportReport(
        format=fmt,
        out=str(out),
        files=[str(f) for f in files],
        clips=len(rows),
        by_split=dict(Counter(r.split or "-" for r in rows)),
        card=str(card),
    )
