"""Training, registering, evaluating and importing models through the commands."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from avel_annotate.cli.main import run
from avel_annotate.model.official import official_shapes
from avel_annotate.model.synthetic import SyntheticSpec, write_synthetic_ave


@pytest.fixture(scope="module")
def ave_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ave")
    write_synthetic_ave(root, SyntheticSpec(n_train=64, n_val=32, n_test=32, n_categories=3))
    return root


def _avel(data_dir: Path, *args: str) -> list[str]:
    return ["--data-dir", str(data_dir), "--no-progress", *args]


def test_train_from_ave_h5_registers_a_version_and_evaluates(
    ave_dir: Path, data_dir: Path, capsys: pytest.CaptureFixture
):
    args = [
        "train",
        "--from-ave-h5",
        str(ave_dir),
        "--epochs",
        "2",
        "--stage2-epochs",
        "1",
        "--batch-size",
        "32",
        "--name",
        "v1",
        "--json",
    ]
    assert run(_avel(data_dir, *args)) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["name"], report["n_train"], report["n_val"]) == ("v1", 64, 32)
    assert 0.0 <= report["best_val_accuracy"] <= 1.0
    folder = data_dir / "models" / "v1"
    assert {"config.json", "metrics.json", "card.md", "weights.pt"} <= {
        p.name for p in folder.iterdir()
    }
    config = json.loads((folder / "config.json").read_text())
    assert config["model"]["n_categories"] == 3 and len(config["categories"]) == 3

    assert (
        run(
            _avel(
                data_dir,
                "evaluate",
                "--model",
                "v1",
                "--split",
                "test",
                "--from-ave-h5",
                str(ave_dir),
                "--json",
            )
        )
        == 0
    )
    ev = json.loads(capsys.readouterr().out)
    assert ev["n_clips"] == 32 and len(ev["metrics"]["confusion"]) == 4
    assert (folder / "eval-test.json").is_file()

    # a second version names the first as its previous default
    args[args.index("v1")] = "v2"
    assert run(_avel(data_dir, *args)) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["previous"] == "v1"
    # the previous default is scored again on the same validation clips for a fair comparison
    assert second["previous_val_accuracy"] == pytest.approx(report["best_val_accuracy"])
    assert run(_avel(data_dir, "models", "list", "--json")) == 0
    versions = json.loads(capsys.readouterr().out)
    assert [(v["name"], v["is_default"], v["parent"]) for v in versions] == [
        ("v1", False, None),
        ("v2", True, "v1"),
    ]
    assert "test@ave-h5" in versions[0]["metrics"]
    assert run(_avel(data_dir, "train", "--from-ave-h5", str(ave_dir), "--name", "v1")) == 1
    assert "already exists" in capsys.readouterr().err


def _official_state(variant: str, n: int) -> dict[str, torch.Tensor]:
    state = {}
    for key, shape in official_shapes(variant, n).items():
        count = math.prod(shape)
        state["module." + key] = 0.05 * torch.sin(
            0.013 * torch.arange(count, dtype=torch.float64)
        ).reshape(shape)
    return state


def test_import_official_needs_matching_categories(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
):
    ckpt = tmp_path / "cpsp.pt"
    torch.save(_official_state("cpsp-fully", 3), ckpt)
    args = ["model", "import-official", str(ckpt), "--variant", "cpsp-fully", "--name", "off"]
    assert run(_avel(data_dir, *args)) == 1
    assert "the checkpoint has 3 categories and the store 0" in capsys.readouterr().err
    names = tmp_path / "names.txt"
    names.write_text("dog\ncat\nowl\n")
    assert run(_avel(data_dir, *args, "--categories", str(names), "--json")) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["n_categories"], report["categories_from"]) == (3, str(names))
    assert (data_dir / "models" / "off" / "weights.pt").is_file()
    bad = ["model", "import-official", str(ckpt), "--variant", "cpsp-fully", "--name", "../x"]
    assert run(_avel(data_dir, *bad)) == 1
    assert "model version name '../x' is not allowed" in capsys.readouterr().err
