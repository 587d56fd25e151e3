"""`avel predict`: a model version's per-second event probabilities and category per clip.

The clips to predict are read in one short unit of work; then, a batch at a time, their feature
files are read, the model scores them (``model.inference``, no session open) and the batch's
rows are inserted in their own unit of work, so an interrupted run keeps what it finished and
a re-run predicts only the rest.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from avel_annotate.config import Settings
from avel_annotate.domain import uncertainty
from avel_annotate.domain.segments import from_list
from avel_annotate.domain.uncertainty import DEFAULT_SCORER
from avel_annotate.errors import ConfigError, FeatureError
from avel_annotate.features.store_files import read_features
from avel_annotate.model.inference import BatchPrediction, Predictor
from avel_annotate.services.device import pick_device
from avel_annotate.services.model_registry import load_version, pick_extractor
from avel_annotate.services.progress import ProgressBar
from avel_annotate.store import models as mq
from avel_annotate.store import predictions as q
from avel_annotate.store.clips import category_ids
from avel_annotate.store.database import Store
from avel_annotate.store.predictions import PredictCandidate

log = logging.getLogger(__name__)


def prediction_score(
    event_prob: np.ndarray, category_prob: np.ndarray, method: str = DEFAULT_SCORER
) -> float:
    """Confidence in [0, 1] of one clip's prediction (``domain.uncertainty``, by ``method``).
    Low scores go first with ``avel annotate push --order uncertainty``."""
    return uncertainty.score(event_prob, category_prob, method)


@dataclass(frozen=True)
class PredictReport:
    model: str
    features: str
    selected: int
    predicted: int
    skipped_random: int
    device: str = "cpu"


@dataclass(frozen=True)
class _Target:
    """What a run writes its rows against."""

    version_id: int
    categories: list[str]  # the model's, class index order
    category_ids: dict[str, int]  # the store's, by name
    scoring: str


def _rows(
    batch: list[PredictCandidate], pred: BatchPrediction, target: _Target
) -> list[dict[str, Any]]:
    """One prediction row per clip of the batch."""
    rows = []
    for i, cand in enumerate(batch):
        ev, cp = pred.event_prob[i], pred.category_prob[i]
        name = target.categories[int(cp.argmax())]
        rows.append(
            {
                "clip_id": cand.id,
                "model_version_id": target.version_id,
                "event_probs": json.dumps([round(float(x), 6) for x in ev]),
                "category_probs": json.dumps([round(float(x), 6) for x in cp]),
                "segments": from_list([int(v != pred.background) for v in pred.segment_labels[i]]),
                "category_id": target.category_ids.get(name),
                "score": prediction_score(ev, cp, target.scoring),
            }
        )
    return rows


def _predict_batch(
    settings: Settings, predictor: Predictor, batch: list[PredictCandidate], target: _Target
) -> list[dict[str, Any]]:
    files = [read_features(settings.data_dir / c.feature_path) for c in batch]
    pred = predictor.predict(
        np.stack([f.audio for f in files]), np.stack([f.visual for f in files])
    )
    return _rows(batch, pred, target)


def predict(
    store: Store,
    settings: Settings,
    model: str | None = None,
    *,
    split: str | None = None,
    limit: int | None = None,
    device: str | None = "auto",
    features: str | None = None,
    batch_size: int = 64,
    allow_random_features: bool = False,
    scoring: str = DEFAULT_SCORER,
) -> PredictReport:
    """Predict every clip with features not yet predicted by this version (resumable).
    ``scoring`` names the confidence stored as each prediction's ``score``."""
    if scoring not in uncertainty.SCORERS:
        raise ConfigError(
            f"unknown score {scoring!r}", f"use one of {', '.join(uncertainty.SCORERS)}"
        )
    device = pick_device(device)
    loaded = load_version(store, settings, model)
    predictor = Predictor(loaded.model, device)
    with store.session() as session:
        extractor = pick_extractor(session, features)
        version = mq.get_version(session, loaded.name)
        assert version is not None
        todo = q.clips_to_predict(session, version.id, extractor, split=split, limit=limit)
        target = _Target(version.id, loaded.categories, category_ids(session), scoring)
    random_count = sum(1 for c in todo if c.is_random)
    if random_count and not allow_random_features:
        raise FeatureError(
            f"{random_count} clip(s) have only random-weight {extractor} features",
            "extract real features, or pass --allow-random-features for a demo",
        )
    done = 0
    with ProgressBar(settings.progress, len(todo), f"predict {loaded.name}") as bar:
        for start in range(0, len(todo), batch_size):
            rows = _predict_batch(settings, predictor, todo[start : start + batch_size], target)
            with store.session() as session:
                q.insert_predictions(session, rows)
            done += len(rows)
            bar.advance(len(rows))
    return PredictReport(loaded.name, extractor, len(todo), done, random_count, device)
