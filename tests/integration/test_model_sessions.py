"""Training and evaluation keep their units of work short: no session is open while a model
trains, evaluates or is scored (on SQLite an open session can hold the write lock), and the
version's files are in place, written atomically, when the version is registered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from avel_annotate.config import Settings
from avel_annotate.fileio import is_temp
from avel_annotate.model.synthetic import SyntheticSpec, write_synthetic_ave
from avel_annotate.services import evaluation, model_registry, training
from avel_annotate.store.database import Store


@pytest.fixture(scope="module")
def ave_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ave")
    write_synthetic_ave(root, SyntheticSpec(n_train=32, n_val=16, n_test=16, n_categories=3))
    return root


def test_no_session_is_open_while_training_or_evaluating(
    ave_dir: Path, store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
):
    seen: list[tuple[str, int]] = []

    def watched(name: str, real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            seen.append((name, store.open_sessions))
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(training, "train", watched("train", training.train))
    monkeypatch.setattr(training, "evaluate", watched("score previous", training.evaluate))
    monkeypatch.setattr(evaluation, "evaluate", watched("evaluate", evaluation.evaluate))
    real_write = model_registry.write_version_files

    def write_files(out: Path, *args: Any) -> None:
        real_write(out, *args)
        seen.append(("files", store.open_sessions))
        assert {"config.json", "card.md", "weights.pt"} <= {p.name for p in out.iterdir()}
        assert not [p for p in out.iterdir() if is_temp(p)]

    monkeypatch.setattr(training, "write_version_files", write_files)
    options = training.TrainOptions(from_ave_h5=ave_dir, epochs=1, stage2_epochs=0,
                                    batch_size=16, device="cpu")  # fmt: skip
    for name in ("v1", "v2"):  # v2 scores v1, the default, on its validation clips
        training.train_model(store, settings, training.TrainOptions(**{**options.__dict__,
                                                                       "name": name}))  # fmt: skip
    report = evaluation.evaluate_model(
        store, settings, "v2", evaluation.EvalOptions("test", from_ave_h5=ave_dir)
    )
    assert report.n_clips == 16
    assert [n for n, _ in seen] == ["train", "files", "train", "score previous", "files",
                                    "evaluate"]  # fmt: skip
    assert all(open_ == 0 for _, open_ in seen), seen
    assert store.open_sessions == 0
    versions = model_registry.list_versions(store)
    assert [(v.name, v.is_default, v.parent) for v in versions] == [
        ("v1", False, None),
        ("v2", True, "v1"),
    ]
