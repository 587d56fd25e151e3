"""A real Label Studio server for the integration tests.

One template data dir is migrated per test session (~50 s); each test copies it and starts its
own server on a free port (a few seconds), with the toolkit's data dir as the local-files root.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert

from avel_annotate.config import Settings
from avel_annotate.errors import LabelStudioError
from avel_annotate.labelstudio.server import (
    ServerHandle,
    copy_data_dir,
    find_label_studio,
    start_server,
)
from avel_annotate.services.store import open_store
from avel_annotate.store.clips import ensure_categories
from avel_annotate.store.engine import session_scope
from avel_annotate.store.tables import Clip

TOKEN = secrets.token_hex(20)
ADMIN = "admin@avel.local"
PASSWORD = secrets.token_urlsafe(12)


@pytest.fixture(scope="session")
def ls_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        find_label_studio()
    except LabelStudioError:
        pytest.skip("label-studio is not installed (pip install 'avel-annotate[server]')")
    template = tmp_path_factory.mktemp("ls-template")
    root = tmp_path_factory.mktemp("ls-template-root")
    handle = start_server(template, root, token=TOKEN, username=ADMIN, password=PASSWORD)
    handle.stop()
    return template


def start_copy(ls_template: Path, dest: Path, document_root: Path) -> ServerHandle:
    if not dest.exists():
        copy_data_dir(ls_template, dest)
    return start_server(dest, document_root, token=TOKEN, username=ADMIN, password=PASSWORD)


@pytest.fixture
def ls_server(ls_template: Path, tmp_path: Path, data_dir: Path) -> Iterator[ServerHandle]:
    handle = start_copy(ls_template, tmp_path / "ls", data_dir)
    yield handle
    handle.stop()


@pytest.fixture
def ls_settings(settings: Settings, ls_server: ServerHandle) -> Settings:
    return settings.with_(ls_url=ls_server.url, ls_api_key=TOKEN)


def add_clips(settings: Settings, n: int, categories: list[str], split: str = "train") -> list[str]:
    """``n`` fetched clips with small media files, categories taken in turn."""
    ids = [f"{'v' + format(i, '010d')}_{0:06d}" for i in range(n)]
    engine = open_store(settings)
    try:
        with session_scope(engine) as session:
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
    finally:
        engine.dispose()
    return ids
