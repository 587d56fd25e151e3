"""Segment-level AVEL metrics as pure functions over numpy arrays (no torch, no I/O).

Labels are integer class ids per one-second segment, ``0..C-1`` events and ``C`` background
(``background`` below). Arrays may be ``[N, T]`` (clips x segments) or flat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    t = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(y_pred, dtype=np.int64)
    if t.shape != p.shape:
        raise ValueError(f"y_true shape {t.shape} != y_pred shape {p.shape}")
    return t, p


def segment_accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Share of segments whose (C+1)-way label is right; NaN when there are no segments."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(t == p)) if t.size else float("nan")


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, n_classes: int) -> NDArray[np.int64]:
    """``[n_classes, n_classes]`` counts, rows = true class, columns = predicted class."""
    t, p = _pair(y_true, y_pred)
    t, p = t.ravel(), p.ravel()
    if t.size and (min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes})")
    counts = np.bincount(t * n_classes + p, minlength=n_classes * n_classes)
    return counts.reshape(n_classes, n_classes).astype(np.int64)


def per_class_accuracy(y_true: ArrayLike, y_pred: ArrayLike, n_classes: int) -> NDArray[np.float64]:
    """Per true class, the share of its segments predicted right (recall); NaN if absent."""
    cm = confusion_matrix(y_true, y_pred, n_classes)
    support = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(cm) / np.maximum(support, 1), np.nan)


@dataclass(frozen=True)
class PRF:
    precision: float
    recall: float
    f1: float
    support: int  # true positives + false negatives

    def to_dict(self) -> dict[str, float | int]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1,
                "support": self.support}  # fmt: skip


def binary_prf(truth: ArrayLike, predicted: ArrayLike) -> PRF:
    """Precision/recall/F1 of boolean arrays; 0 where undefined (no predictions / no truth)."""
    t = np.asarray(truth, dtype=bool).ravel()
    p = np.asarray(predicted, dtype=bool).ravel()
    tp = int(np.sum(t & p))
    n_pred, n_true = int(p.sum()), int(t.sum())
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PRF(precision, recall, f1, n_true)


def event_background_prf(y_true: ArrayLike, y_pred: ArrayLike, background: int) -> tuple[PRF, PRF]:
    """Event detection (any category counts) and background detection, as (event, background)."""
    t, p = _pair(y_true, y_pred)
    return binary_prf(t != background, p != background), binary_prf(
        t == background, p == background
    )


def all_event_clips(y_true: ArrayLike, background: int) -> NDArray[np.bool_]:
    """``[N]`` mask of D_ae clips (every segment an event); the rest form D_bg."""
    t = np.asarray(y_true, dtype=np.int64)
    if t.ndim != 2:
        raise ValueError(f"expected [N, T] labels, got shape {t.shape}")
    return np.all(t != background, axis=1)


def subset_accuracy(y_true: ArrayLike, y_pred: ArrayLike, background: int) -> tuple[float, float]:
    """Segment accuracy on D_ae clips and on D_bg clips (NaN for an empty subset)."""
    t, p = _pair(y_true, y_pred)
    ae = all_event_clips(t, background)
    return segment_accuracy(t[ae], p[ae]), segment_accuracy(t[~ae], p[~ae])


@dataclass(frozen=True)
class SegmentReport:
    """Every metric of one evaluation; ``to_dict`` is JSON-ready (NaN -> None)."""

    n_clips: int
    n_segments: int
    accuracy: float
    per_class_accuracy: tuple[float, ...]
    accuracy_ae: float
    accuracy_bg: float
    n_clips_ae: int
    n_clips_bg: int
    event: PRF
    background: PRF
    confusion: tuple[tuple[int, ...], ...]
    all_background_accuracy: float  # the trivial baseline on the same labels

    def to_dict(self) -> dict[str, Any]:
        def clean(x: float) -> float | None:
            return None if np.isnan(x) else float(x)

        return {
            "n_clips": self.n_clips,
            "n_segments": self.n_segments,
            "accuracy": clean(self.accuracy),
            "per_class_accuracy": [clean(x) for x in self.per_class_accuracy],
            "accuracy_ae": clean(self.accuracy_ae),
            "accuracy_bg": clean(self.accuracy_bg),
            "n_clips_ae": self.n_clips_ae,
            "n_clips_bg": self.n_clips_bg,
            "event": self.event.to_dict(),
            "background": self.background.to_dict(),
            "confusion": [list(row) for row in self.confusion],
            "all_background_accuracy": clean(self.all_background_accuracy),
        }


def segment_report(y_true: ArrayLike, y_pred: ArrayLike, n_categories: int) -> SegmentReport:
    """All metrics for ``[N, T]`` labels with C = ``n_categories`` = background."""
    t, p = _pair(y_true, y_pred)
    if t.ndim != 2:
        raise ValueError(f"expected [N, T] labels, got shape {t.shape}")
    bg = n_categories
    ae = all_event_clips(t, bg)
    acc_ae, acc_bg = subset_accuracy(t, p, bg)
    event, background = event_background_prf(t, p, bg)
    cm = confusion_matrix(t, p, n_categories + 1)
    return SegmentReport(
        n_clips=int(t.shape[0]),
        n_segments=int(t.size),
        accuracy=segment_accuracy(t, p),
        per_class_accuracy=tuple(float(x) for x in per_class_accuracy(t, p, n_categories + 1)),
        accuracy_ae=acc_ae,
        accuracy_bg=acc_bg,
        n_clips_ae=int(ae.sum()),
        n_clips_bg=int((~ae).sum()),
        event=event,
        background=background,
        confusion=tuple(tuple(int(x) for x in row) for row in cm),
        all_background_accuracy=segment_accuracy(t, np.full_like(t, bg)),
    )
