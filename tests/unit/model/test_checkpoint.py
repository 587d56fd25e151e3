"""Checkpoints carry their config, are written atomically, and reject damaged files."""

from __future__ import annotations

import pytest
import torch

from avel_annotate.errors import ModelError
from avel_annotate.model import CPSPNet, ModelConfig
from avel_annotate.model.checkpoint import load_checkpoint, save_checkpoint


def test_round_trip_rebuilds_architecture(tmp_path) -> None:
    model = CPSPNet(ModelConfig(n_categories=9, head="paper", setting="weakly"))
    path = save_checkpoint(tmp_path / "m.pt", model, {"note": "x"})
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temp file left behind
    loaded, meta = load_checkpoint(path)
    assert loaded.config == model.config and meta == {"note": "x"}
    for (k1, v1), (k2, v2) in zip(
        model.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert k1 == k2 and torch.equal(v1, v2)


def test_damaged_and_foreign_files(tmp_path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(ModelError, match=r"bad\.pt"):
        load_checkpoint(bad)
    foreign = tmp_path / "plain.pt"
    torch.save({"fa.0.weight": torch.zeros(1)}, foreign)
    with pytest.raises(ModelError, match="not an avel CPSP checkpoint") as info:
        load_checkpoint(foreign)
    assert "load_official" in (info.value.hint or "")
    model = CPSPNet(ModelConfig(n_categories=3))
    path = save_checkpoint(tmp_path / "m.pt", model)
    payload = torch.load(path, weights_only=True)
    payload["state_dict"]["head.category.weight"] = torch.zeros(4, 256)
    torch.save(payload, path)
    with pytest.raises(ModelError, match="does not match its config"):
        load_checkpoint(path)
