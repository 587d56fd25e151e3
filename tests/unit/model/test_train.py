"""Training: determinism, resume after interruption, synthetic learning beats chance."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from avel_annotate.errors import ModelError
from avel_annotate.model import ModelConfig
from avel_annotate.model.checkpoint import load_checkpoint
from avel_annotate.model.data import AveH5Dataset, TensorClipDataset
from avel_annotate.model.evaluate import evaluate
from avel_annotate.model.synthetic import SyntheticSpec, write_synthetic_ave
from avel_annotate.model.train import TrainConfig, train

logger = logging.getLogger(__name__)

C = 3
TINY = TrainConfig(
    seed=5, batch_size=6, psp_epochs=2, psa_s_epochs=1, psa_v_epochs=2, milestones=(1,)
)


def _tiny(n: int, seed: int) -> TensorClipDataset:
    g = torch.Generator().manual_seed(seed)
    labels = torch.full((n, 10), C, dtype=torch.long)
    for i in range(n):
        cat = i % C
        if i % 2:
            labels[i] = cat  # D_ae
        else:
            labels[i, 2:6] = cat  # D_bg
    audio = torch.randn(n, 10, 128, generator=g)
    visual = torch.rand(n, 10, 7, 7, 512, generator=g)
    return TensorClipDataset(audio, visual, labels, C)


class Interrupt(Exception):
    pass


def _stop_after(n_epochs: int):
    seen = []

    def callback(record) -> None:
        seen.append(record)
        if len(seen) == n_epochs:
            raise Interrupt

    return callback


def _weights(path):
    return load_checkpoint(path)[0].state_dict()


def _assert_same(a, b) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.fixture(scope="module")
def tiny_data():
    return _tiny(14, 0), _tiny(6, 1)


@pytest.fixture(scope="module")
def reference_run(tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref")
    result = train(ModelConfig(n_categories=C), *tiny_data, out, TINY)
    return out, result


def test_stages_and_result(reference_run) -> None:
    out, result = reference_run
    assert [h.stage for h in result.history] == ["psp", "psp", "psa_s", "psa_v", "psa_v"]
    assert result.best_checkpoint.is_file()
    assert {"psp", "psa_s", "psa_v"} == set(result.stage_best)
    # the result is the best of the last stage run, not of all stages
    assert result.best_stage == "psa_v"
    last = [h.val_accuracy for h in result.history if h.stage == "psa_v"]
    assert result.best_val_accuracy == max(last)
    _assert_same(_weights(out / "best.pt"), _weights(out / "best-psa_v.pt"))
    assert (out / "best-psa_v.pt").is_file() and (out / "train_state.pt").is_file()
    assert not list(out.glob(".*tmp*"))
    _, meta = load_checkpoint(result.best_checkpoint)
    assert meta["stage"] == result.best_stage and "val_metrics" in meta


def test_same_seed_same_weights(reference_run, tiny_data, tmp_path) -> None:
    out, _ = reference_run
    train(ModelConfig(n_categories=C), *tiny_data, tmp_path, TINY)
    _assert_same(_weights(out / "best-psa_v.pt"), _weights(tmp_path / "best-psa_v.pt"))
    _assert_same(_weights(out / "best.pt"), _weights(tmp_path / "best.pt"))


@pytest.mark.parametrize("stop_after", [1, 2, 4])  # mid-stage, at a stage boundary, late
def test_resume_matches_uninterrupted(reference_run, tiny_data, tmp_path, stop_after) -> None:
    out, ref = reference_run
    with pytest.raises(Interrupt):
        train(ModelConfig(n_categories=C), *tiny_data, tmp_path, TINY,
              callback=_stop_after(stop_after))  # fmt: skip
    result = train(ModelConfig(n_categories=C), *tiny_data, tmp_path, TINY)
    assert [h.val_accuracy for h in result.history] == [h.val_accuracy for h in ref.history]
    for name in ("best-psp.pt", "best-psa_s.pt", "best-psa_v.pt", "best.pt"):
        _assert_same(_weights(out / name), _weights(tmp_path / name))
    ref_state = torch.load(out / "train_state.pt", weights_only=True)["model"]
    new_state = torch.load(tmp_path / "train_state.pt", weights_only=True)["model"]
    _assert_same(ref_state, new_state)


def test_resume_refuses_other_config(reference_run, tiny_data) -> None:
    out, _ = reference_run
    other = TrainConfig(seed=6, batch_size=6, psp_epochs=2, psa_s_epochs=1, psa_v_epochs=2)
    with pytest.raises(ModelError, match="another config"):
        train(ModelConfig(n_categories=C), *tiny_data, out, other)


def test_weakly_skips_psa_s(tiny_data, tmp_path) -> None:
    cfg = TrainConfig(seed=1, batch_size=8, psp_epochs=1, psa_s_epochs=1, psa_v_epochs=1)
    result = train(ModelConfig(n_categories=C, setting="weakly", tau=0.095), *tiny_data,
                   tmp_path, cfg)  # fmt: skip
    assert [h.stage for h in result.history] == ["psp", "psa_v"]


def test_synthetic_training_beats_chance(tmp_path) -> None:
    """Events need both modalities; a few CPU epochs must clearly beat the trivial guesses."""
    spec = SyntheticSpec(n_train=160, n_val=40, n_test=60, n_categories=4, seed=11)
    root = write_synthetic_ave(tmp_path / "ave", spec)
    data = {s: AveH5Dataset(root, s) for s in ("train", "val", "test")}
    cfg = TrainConfig(seed=0, batch_size=32, psp_epochs=5, psa_s_epochs=1, psa_v_epochs=1,
                      milestones=(4,), bf16=True)  # fmt: skip
    result = train(ModelConfig(n_categories=4), data["train"], data["val"], tmp_path / "run", cfg)
    model, _ = load_checkpoint(result.best_checkpoint)
    report = evaluate(model, data["test"]).report
    labels = data["test"].labels()
    majority = np.bincount(labels.ravel()).max() / labels.size  # best constant guess
    logger.info("synthetic test accuracy %.3f (constant guess %.3f)", report.accuracy, majority)
    assert report.accuracy > majority + 0.3
    assert report.accuracy > 0.8


def test_reproduce_ave_writes_table(tmp_path) -> None:
    from avel_annotate.model.reproduce import reproduce_ave

    spec = SyntheticSpec(n_train=12, n_val=4, n_test=4, n_categories=3, seed=2)
    root = write_synthetic_ave(tmp_path / "ave", spec)
    cfg = TrainConfig(batch_size=6, psp_epochs=1, psa_s_epochs=1, psa_v_epochs=1, bf16=True)
    table = reproduce_ave(root, tmp_path / "out", ("fully", "weakly"), cfg)
    assert (tmp_path / "out" / "ave_table.json").is_file()
    assert table["fully"]["cpsp"]["stage"] == "psa_v" and table["weakly"]["psp"]["stage"] == "psp"
    for setting in ("fully", "weakly"):
        for row in table[setting].values():
            model, _ = load_checkpoint(tmp_path / "out" / setting / f"best-{row['stage']}.pt")
            test = AveH5Dataset(root, "test")
            assert row["test_accuracy"] == pytest.approx(evaluate(model, test).report.accuracy)


def test_resume_state_holds_cuda_rng_states_and_restores_them(monkeypatch, tmp_path) -> None:
    """With CUDA devices (faked here: this machine may have none), the state saves every
    device's generator as a tensor next to the CPU one, and a resume puts them back."""
    import avel_annotate.model.train as tm

    states = [torch.full((16,), 7, dtype=torch.uint8), torch.full((16,), 9, dtype=torch.uint8)]
    restored: list[list[torch.Tensor]] = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: [t.clone() for t in states])
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", lambda s: restored.append(list(s)))
    monkeypatch.setattr(torch.cuda, "manual_seed_all", lambda seed: None)
    data = _tiny(8, 0), _tiny(4, 1)
    cfg = TrainConfig(seed=1, batch_size=8, psp_epochs=2, psa_s_epochs=0, psa_v_epochs=0)
    with pytest.raises(Interrupt):
        train(ModelConfig(n_categories=C), *data, tmp_path, cfg, callback=_stop_after(1))
    saved = tm.load_train_state(tmp_path / "train_state.pt")  # weights_only=True inside
    assert saved["rng"]["cpu"].dtype == torch.uint8
    assert all(torch.equal(a, b) for a, b in zip(saved["rng"]["cuda"], states, strict=True))
    train(ModelConfig(n_categories=C), *data, tmp_path, cfg)
    assert len(restored) == 1
    assert all(torch.equal(a, b) for a, b in zip(restored[0], states, strict=True))


def test_damaged_state_is_one_line(tiny_data, tmp_path) -> None:
    (tmp_path / "train_state.pt").write_bytes(b"not a torch file")
    with pytest.raises(ModelError, match="not a training state written by avel-annotate") as info:
        train(ModelConfig(n_categories=C), *tiny_data, tmp_path, TINY)
    assert "\n" not in info.value.one_line()
