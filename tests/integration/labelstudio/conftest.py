"""Label Studio test helpers; the server fixtures live in tests/conftest.py (shared with e2e)."""

from __future__ import annotations

from sqlalchemy import insert

from avel_annotate.config import Settings
from avel_annotate.services.store import open_store
from avel_annotate.store.clips import ensure_categories
from avel_annotate.store.tables import Clip
from tests.conftest import ADMIN, PASSWORD, TOKEN, start_copy

__all__ = ["ADMIN", "PASSWORD", "TOKEN", "add_clips", "start_copy"]


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
