"""Model version folders are stored relative to the data dir (issue 10 item 3): a copied or
moved data dir finds its weights. Before, the absolute path of the original dir was stored."""

from __future__ import annotations

from pathlib import Path

from avel_annotate.config import load_settings
from avel_annotate.services.model_registry import stored_path, version_folder


def test_stored_relative_and_found_in_a_copy(tmp_path: Path):
    a = load_settings(data_dir=tmp_path / "a", environ={})
    b = load_settings(data_dir=tmp_path / "b", environ={})
    stored = stored_path(a, a.models_dir / "v1")
    assert stored == "models/v1"
    assert version_folder(b, stored, "v1") == b.data_dir / "models" / "v1"


def test_old_absolute_row_falls_back_to_this_data_dirs_folder(tmp_path: Path):
    b = load_settings(data_dir=tmp_path / "b", environ={})
    (b.models_dir / "v1").mkdir(parents=True)
    gone = str(tmp_path / "a" / "models" / "v1")  # as older versions stored it
    assert version_folder(b, gone, "v1") == b.models_dir / "v1"
    kept = tmp_path / "elsewhere" / "v1"
    kept.mkdir(parents=True)
    assert version_folder(b, str(kept), "v1") == kept  # an existing folder outside is kept
    assert stored_path(b, kept) == str(kept)
