"""`avel predict`: a model version's per-second event probabilities and category per clip."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import numpy as np
import torch

from avel_annotate.config import Settings
from avel_annotate.domain import uncertainty
from avel_annotate.domain.segments import from_list
from avel_annotate.domain.uncertainty import DEFAULT_SCORER
from avel_annotate.errors import ConfigError, FeatureError
from avel_annotate.features.store_files import read_features
from avel_annotate.model.network import predict as model_predict
from avel_annotate.services.device import pick_device
from avel_annotate.services.models import load_version, pick_extractor
from avel_annotate.services.progress import ProgressBar
from avel_annotate.services.store import open_engine
from avel_annotate.store import models as mq
from avel_annotate.store import predictions as q
from avel_annotate.store.clips import category_ids
from avel_annotate.store.engine import session_scope

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


def predict(
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
    loaded = load_version(settings, model)
    net = loaded.model.to(device).eval()
    background = net.config.n_categories
    engine = open_engine(settings)
    try:
        with session_scope(engine) as session:
            extractor = pick_extractor(session, features)
            version = mq.get_version(session, loaded.name)
            assert version is not None
            version_id = version.id
            todo = q.clips_to_predict(session, version_id, extractor, split=split, limit=limit)
            cat_ids = category_ids(session)
        random_count = sum(1 for c in todo if c.is_random)
        if random_count and not allow_random_features:
            raise FeatureError(
                f"{random_count} clip(s) have only random-weight {extractor} features",
                "extract real features, or pass --allow-random-features for a demo",
            )
        done = 0
        with ProgressBar(settings.progress, len(todo), f"predict {loaded.name}") as bar:
            for start in range(0, len(todo), batch_size):
                batch = todo[start : start + batch_size]
                files = [read_features(settings.data_dir / c.feature_path) for c in batch]
                audio = torch.from_numpy(np.stack([f.audio for f in files]).astype(np.float32))
                video = torch.from_numpy(np.stack([f.visual for f in files]).astype(np.float32))
                with torch.no_grad():
                    out = net(audio=audio.to(device), video=video.to(device))
                    pred = model_predict(out, net.config)
                ev = pred.event_prob.float().cpu().numpy()
                cp = pred.category_prob.float().cpu().numpy()
                labels = pred.segment_labels.cpu().numpy()
                rows = []
                for i, cand in enumerate(batch):
                    name = loaded.categories[int(cp[i].argmax())]
                    rows.append(
                        {
                            "clip_id": cand.id,
                            "model_version_id": version_id,
                            "event_probs": json.dumps([round(float(x), 6) for x in ev[i]]),
                            "category_probs": json.dumps([round(float(x), 6) for x in cp[i]]),
                            "segments": from_list([int(v != background) for v in labels[i]]),
                            "category_id": cat_ids.get(name),
                            "score": prediction_score(ev[i], cp[i], scoring),
                        }
                    )
                with session_scope(engine) as session:
                    q.insert_predictions(session, rows)
                done += len(rows)
                bar.advance(len(rows))
    finally:
        engine.dispose()
    return PredictReport(loaded.name, extractor, len(todo), done, random_count, device)
