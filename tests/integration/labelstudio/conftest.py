"""Label Studio test helpers; the server fixtures live in tests/conftest.py (shared with e2e)."""

from __future__ import annotations

import json

from sqlalchemy import insert, select

from avel_annotate.config import Settings
from avel_annotate.services.store import open_store
from avel_annotate.store.clips import ensure_categories
from avel_annotate.store.tables import Clip, ModelVersion, Prediction
from tests.conftest import ADMIN, PASSWORD, TOKEN, start_copy

__all__ = [
    "ADMIN", "FIRST", "PASSWORD", "TOKEN", "add_clips", "add_model", "start_copy",
]  # fmt: skip

FIRST = "1111100000"  # the event seconds of every other prediction of add_model


def add_clips(settings: Settings, n: int, categories: list[str], split: str = "train") -> list[str]:
    """``n`` fetched clips with small media files, categories taken in turn."""
    ids = [f"{'v' + format(i, '010d')}_{0:06d}" for i in range(n)]
    with open_store(settings) as opened, opened.session() as session:
        cats = ensure_categories(session, categories)
        rows = []
        for i, clip_id in enumerate(ids):
            rel = f"clips/{clip_id[:2]}/{clip_id}.mp4"
            path = settings.data_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(64))
            rows.append(
                {
                    "clip_id": clip_id,
                    "ytid": clip_id[:11],
                    "start_s": 0,
                    "source_format": "vggsound",
                    "source_file": "test.csv",
                    "source_line": i + 1,
                    "category_id": cats[categories[i % len(categories)]],
                    "split": split,
                    "status": "fetched",
                    "media_path": rel,
                }
            )
        session.execute(insert(Clip), rows)
    return ids


def add_model(settings: Settings, clip_ids: list[str]) -> None:
    """Model version ``m1`` with a prediction per clip: ``FIRST`` or background in turn, scores
    0.95, 0.90, ... down the list (the last clip is the least sure)."""
    with open_store(settings) as opened, opened.session() as s:
        mv = ModelVersion(
            name="m1",
            source="trained",
            path="models/m1",
            config="{}",
            categories='["cat", "dog"]',
        )
        s.add(mv)
        s.flush()
        clips = {c.clip_id: c for c in s.scalars(select(Clip))}
        rows = []
        for i, cid in enumerate(clip_ids):
            rows.append(
                {
                    "clip_id": clips[cid].id,
                    "model_version_id": mv.id,
                    "event_probs": json.dumps([0.9] * 5 + [0.1] * 5),
                    "category_probs": "[0.5, 0.5]",
                    "segments": FIRST if i % 2 == 0 else "0000000000",
                    "category_id": clips[cid].category_id,
                    "score": 0.95 - i * 0.05,  # the last clip is the least sure
                }
            )
        s.execute(insert(Prediction), rows)
