"""`avel export`: the authors' AVE h5 layout, an AVEL100k-style CSV, JSON lines, a dataset card."""

from __future__ import annotations

import csv
import json
import logging
import os
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from avel_annotate.config import Settings
from avel_annotate.domain import segments as seg
from avel_annotate.domain.ids import parse_clip_id
from avel_annotate.errors import ConfigError, ConflictError, FeatureError
from avel_annotate.features.ave_h5 import export_ave_h5
from avel_annotate.services.models import pick_extractor
from avel_annotate.services.store import store_session
from avel_annotate.store import annotations as aq
from avel_annotate.store import clips as cq
from avel_annotate.store import export as q
from avel_annotate.store.annotations import CuratedRow
from avel_annotate.store.clips import category_names

log = logging.getLogger(__name__)
FORMATS = ("ave-h5", "csv", "jsonl")
SPLIT_ORDER = {"train": 0, "val": 1, "test": 2}

LABEL_DEFINITION = (
    "Each clip is 10 one-second segments. Segment t is labelled 1 (an audio-visual event) when "
    "the clip's category is both heard and seen during second [t, t+1); otherwise 0 "
    "(background). The category is one per clip."
)


@dataclass(frozen=True)
class ExportReport:
    format: str
    out: str
    files: list[str]
    clips: int
    by_split: dict[str, int]
    card: str


def _rows(settings: Settings, split: str | None, labels: str) -> list[CuratedRow]:
    if labels not in ("curated", "list"):
        raise ConfigError(f"unknown label source {labels!r}", "use curated or list")
    with store_session(settings) as session:
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


def _atomic_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _write_h5(path: Path, array: np.ndarray, key: str = "avadataset") -> None:
    """One dataset per file, as the release: ``avadataset`` (features, labels) or ``order``."""
    import h5py

    tmp = path.with_name(f".{path.name}.tmp")
    with h5py.File(tmp, "w") as fh:
        fh.create_dataset(key, data=array)
    os.replace(tmp, path)


@dataclass(frozen=True)
class AveRow:
    """One row of an AVE h5 export: a clip, or (``--labels list``) one Annotations row of it."""

    row: CuratedRow
    quality: str
    start: int
    end: int


def ave_rows(
    settings: Settings, rows: list[CuratedRow], labels: str, split: str | None = None
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
        with store_session(settings) as session:
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
    settings: Settings,
    clip_rows: list[CuratedRow],
    out: Path,
    features: str | None,
    allow_random: bool,
    labels: str = "curated",
    split: str | None = None,
) -> tuple[list[Path], list[CuratedRow]]:
    planned = ave_rows(settings, clip_rows, labels, split)
    if not planned:
        raise ConfigError(f"no {labels}-labelled rows in split {split!r}", "check --split")
    rows = [a.row for a in planned]
    with store_session(settings) as session:
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
    c = len(categories)
    index = {name: i for i, name in enumerate(categories)}
    onehot = np.zeros((len(rows), 10, c + 1), dtype=np.float64)
    lines = []
    for i, a in enumerate(planned):
        r = a.row
        cat = index.get(r.category) if r.category else None
        for t, bit in enumerate(r.segments):
            onehot[i, t, cat if bit == "1" and cat is not None else c] = 1.0
        ytid, _ = parse_clip_id(r.clip_id)
        lines.append(f"{r.category or 'background'}&{ytid}&{a.quality}&{a.start}&{a.end}")
    _write_h5(out / "labels.h5", onehot)
    written = [out / n for n in ("visual_feature.h5", "audio_feature.h5", "labels.h5")]
    for split in SPLIT_ORDER:
        order = np.asarray([i for i, r in enumerate(rows) if r.split == split], dtype=np.int64)
        if order.size:
            _write_h5(out / f"{split}_order.h5", order, key="order")
            written.append(out / f"{split}_order.h5")
    _atomic_text(
        out / "Annotations.txt",
        "Category&VideoID&Quality&StartTime&EndTime\n" + "\n".join(lines) + "\n",
    )
    _atomic_text(out / "categories.txt", "\n".join(categories) + "\n")
    _atomic_text(
        out / "clips.csv",
        "row,clip_id,split,segments\n"
        + "".join(f"{i},{r.clip_id},{r.split},{r.segments}\n" for i, r in enumerate(rows)),
    )
    return [*written, out / "Annotations.txt", out / "categories.txt", out / "clips.csv"], rows


def _export_csv(rows: list[CuratedRow], path: Path) -> list[Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["video_id", "category", "split", "labels"])
        for r in rows:
            bits = "[" + ",".join(r.segments) + "]"
            writer.writerow([r.clip_id, r.category or "", r.split or "", bits])
    os.replace(tmp, path)
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


def _export_jsonl(settings: Settings, rows: list[CuratedRow], path: Path) -> list[Path]:
    pks = [r.clip_pk for r in rows]
    with store_session(settings) as session:
        annotations = aq.annotation_rows(session, pks)
        drawn = aq.drawn_clip_pks(session)
        predictions = aq.predictions_by_version(session, pks)
    by_clip: dict[int, list[aq.AnnotationRow]] = defaultdict(list)
    for a in annotations:
        by_clip[a.clip_pk].append(a)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for r in rows:
            ytid, start = parse_clip_id(r.clip_id)
            agreement = {}
            for version, preds in predictions.items():
                if r.clip_pk in preds:
                    segs, cat = preds[r.clip_pk]
                    agreement[version] = {
                        "seconds_agreeing": sum(
                            a == b for a, b in zip(segs, r.segments, strict=True)
                        ),
                        "category_agrees": cat == r.category,
                    }
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
                "model_agreement": agreement,
            }
            fh.write(json.dumps(record, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return [path]


def _card(rows: list[CuratedRow], labels: str, fmt: str, agreement: dict[str, Any] | None) -> str:
    by_split = Counter(r.split or "-" for r in rows)
    by_cat: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        by_cat[r.category or "-"][r.split or "-"] += 1
    splits = sorted(by_split, key=lambda s: SPLIT_ORDER.get(s, 3))
    event_share = sum(r.segments.count("1") for r in rows) / max(1, 10 * len(rows))
    lines = [
        "# Dataset card",
        "",
        f"Exported by avel-annotate as `{fmt}` from {labels} labels: {len(rows)} clips, "
        f"{100 * event_share:.1f} % of seconds are events.",
        "",
        "## Label definition",
        "",
        LABEL_DEFINITION,
        "",
        "## Clips per split",
        "",
        "| split | clips |",
        "|---|---|",
        *[f"| {s} | {by_split[s]} |" for s in splits],
        "",
        "## Clips per category and split",
        "",
        "| category | " + " | ".join(splits) + " |",
        "|---|" + "---|" * len(splits),
        *[
            f"| {c} | " + " | ".join(str(by_cat[c][s]) for s in splits) + " |"
            for c in sorted(by_cat)
        ],
        "",
        "## Annotation agreement",
        "",
    ]
    if agreement and agreement.get("n_pairs"):
        lines += [
            f"Independent re-checks: {agreement['n_pairs']} clips. Per-second agreement "
            f"{agreement['percent_agreement']:.1f} %, Cohen's kappa {agreement['kappa']:.3f}; "
            f"category agreement {agreement['category_agreement']:.1f} %.",
        ]
    else:
        lines += ["No independent re-checks recorded."]
    return "\n".join(lines) + "\n"


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


def export(
    settings: Settings,
    fmt: str,
    out: Path,
    *,
    split: str | None = None,
    labels: str = "curated",
    features: str | None = None,
    allow_random_features: bool = False,
    force: bool = False,
) -> ExportReport:
    """Write the labelled clips of ``split`` (or all splits) in ``fmt`` under ``out``.

    Existing output files are never replaced unless ``force``.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}", f"use one of {', '.join(FORMATS)}")
    if not force:
        _refuse_overwrite(fmt, out)
    if fmt == "ave-h5" and labels == "list":  # AVE rows carry their own split
        rows = _rows(settings, None, labels)
    else:
        rows = _rows(settings, split, labels)
    if fmt == "ave-h5":
        files, rows = _export_ave(
            settings, rows, out, features, allow_random_features, labels, split
        )
        card = out / "DATASET_CARD.md"
    else:
        target = out if out.suffix == f".{fmt}" else out / f"labels.{fmt}"
        if fmt == "csv":
            files = _export_csv(rows, target)
        else:
            files = _export_jsonl(settings, rows, target)
        card = target.with_name(f"{target.name}.card.md")
    agreement = None
    if labels == "curated":
        from avel_annotate.services.qc import qc_report
        from avel_annotate.services.store import open_store

        with open_store(settings) as store:
            agreement = qc_report(store).overall.__dict__
    _atomic_text(card, _card(rows, labels, fmt, agreement))
    return ExportReport(
        format=fmt,
        out=str(out),
        files=[str(f) for f in files],
        clips=len(rows),
        by_split=dict(Counter(r.split or "-" for r in rows)),
        card=str(card),
    )
