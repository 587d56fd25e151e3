"""Training, registering, evaluating and importing models through the commands."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from avel_annotate.cli.main import run
from avel_annotate.model.checkpoint import load_checkpoint
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
    folder = data_dir / "models" / "v1"
    assert {"config.json", "metrics.json", "card.md", "weights.pt"} <= {
        p.name for p in folder.iterdir()
    }
    # the registered version is the best of the last stage run; every stage's best is listed
    assert report["best_stage"] == "psa_v"
    assert set(report["stage_best"]) == {"psp", "psa_s", "psa_v"}
    assert report["best_val_accuracy"] == report["stage_best"]["psa_v"]["val_accuracy"]
    last, _ = load_checkpoint(folder / "run" / "best-psa_v.pt")
    registered, _ = load_checkpoint(folder / "weights.pt")
    for key, value in last.state_dict().items():
        assert torch.equal(value, registered.state_dict()[key]), key
    card = (folder / "card.md").read_text()
    assert "Registered checkpoint: the best of the last stage run, psa_v epoch" in card
    assert all(f"run/best-{st}.pt" in card for st in ("psp", "psa_s", "psa_v"))
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


class _Planted:
    """Unpickling this runs code: it would create the file named by ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.touch, (self.marker,))


def test_planted_train_state_does_not_run_code(
    ave_dir: Path, data_dir: Path, capsys: pytest.CaptureFixture
):
    marker = data_dir / "pwned"
    planted = data_dir / "models" / "X" / "run" / "train_state.pt"
    planted.parent.mkdir(parents=True)
    torch.save({"signature": _Planted(marker)}, planted)
    args = ["train", "--from-ave-h5", str(ave_dir), "--epochs", "1", "--stage2-epochs", "0",
            "--batch-size", "32", "--name", "X"]  # fmt: skip
    assert run(_avel(data_dir, *args)) == 1
    err = capsys.readouterr().err.strip()
    assert not marker.exists()  # the pickle's code did not run
    assert len(err.splitlines()) == 1, err
    assert str(planted) in err and "not a training state written by avel-annotate" in err
    assert "delete that file" in err
