"""train and predict default to `--device auto`; the device is reported and recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from avel_annotate.cli.main import run
from avel_annotate.model.synthetic import SyntheticSpec, write_synthetic_ave

EXPECTED = "cuda" if torch.cuda.is_available() else "cpu"


def _avel(data_dir: Path, *args: str) -> list[str]:
    return ["--data-dir", str(data_dir), "--no-progress", *args]


def test_train_defaults_to_auto_and_records_the_device(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture, monkeypatch
) -> None:
    monkeypatch.delenv("AVEL_DEVICE", raising=False)
    ave = tmp_path / "ave"
    write_synthetic_ave(ave, SyntheticSpec(n_train=32, n_val=16, n_test=16, n_categories=3))
    args = ["train", "--from-ave-h5", str(ave), "--epochs", "1", "--stages", "psp"]
    assert run(_avel(data_dir, *args, "--batch-size", "16", "--name", "v1", "--json")) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["device"] == EXPECTED
    folder = data_dir / "models" / "v1"
    assert json.loads((folder / "config.json").read_text())["device"] == EXPECTED
    assert f"- Trained on: {EXPECTED}" in (folder / "card.md").read_text()

    # the human report prints it too; AVEL_DEVICE is the setting behind the option
    monkeypatch.setenv("AVEL_DEVICE", "cpu")
    assert run(_avel(data_dir, *args, "--batch-size", "16", "--name", "v2")) == 0
    out = capsys.readouterr().out
    assert any(line.split() == ["device", "cpu"] for line in out.splitlines()), out


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_asked_for_on_a_cpu_machine_is_one_line(
    data_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    assert run(_avel(data_dir, "predict", "--device", "cuda")) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        "error: device 'cuda' asked for but CUDA is not available "
        "(use --device auto or --device cpu)"
    )
