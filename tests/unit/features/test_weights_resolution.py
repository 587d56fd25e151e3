"""Weights: explicit path, then hub cache, else WeightsNotFoundError; random only if allowed."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from avel_annotate.errors import WeightsNotFoundError
from avel_annotate.features import weights as W
from avel_annotate.features.extract import Extractor, ExtractorOptions
from avel_annotate.fileio import sha256_file
from tests.unit.features import reference as R


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "torch-home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    return home


def test_missing_weights_message_names_paths_and_source(torch_home: Path) -> None:
    with pytest.raises(WeightsNotFoundError) as info:
        W.resolve_weights("vgg19")
    text = info.value.one_line()
    assert str(torch_home / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth") in text
    assert "download.pytorch.org/models/vgg19-dcbb9e9d.pth" in text
    assert "--allow-random-weights" in text
    with pytest.raises(WeightsNotFoundError) as info:
        W.resolve_weights("vggish")
    text = info.value.one_line()
    for name in ("vggish-10086976.pth", "vggish.pt", "torchaudio"):
        assert name in text


def test_explicit_path_wins_and_a_missing_one_is_named(torch_home: Path, tmp_path: Path) -> None:
    cached = torch_home / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x")
    mine = tmp_path / "my-vgg.pth"
    mine.write_bytes(b"y")
    assert W.resolve_weights("vgg19", mine) == mine
    assert W.resolve_weights("vgg19") == cached
    with pytest.raises(WeightsNotFoundError, match=r"nope\.pth"):
        W.resolve_weights("vgg19", tmp_path / "nope.pth")


def test_torchaudio_cache_location_is_found(torch_home: Path) -> None:
    path = torch_home / "hub" / "torchaudio" / "models" / "vggish.pt"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"x")
    assert W.resolve_weights("vggish") == path


def test_extractor_refuses_random_weights_unless_allowed(torch_home: Path) -> None:
    with pytest.raises(WeightsNotFoundError):
        Extractor.from_options(ExtractorOptions(visual="resnet18"))


def test_random_weights_are_loud_and_recorded(
    torch_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        ex = Extractor.from_options(
            ExtractorOptions(visual="resnet18", allow_random_weights=True, decoder="test")
        )
    assert "RANDOM WEIGHTS" in caplog.text
    p = ex.provenance
    assert p.random is True
    assert p.visual_weights == "random" and p.audio_weights == "random"
    assert p.extractor == "resnet18_vggish" == ex.name
    assert p.decoder == "test" and p.dtype == "float32" and p.frames_per_second == 16
    # deterministic random init: two extractors give the same weights
    ex2 = Extractor.from_options(ExtractorOptions(visual="resnet18", allow_random_weights=True))
    for a, b in zip(ex.visual_net.parameters(), ex2.visual_net.parameters(), strict=True):
        assert torch.equal(a, b)


def test_real_weights_from_the_hub_cache_are_hashed(torch_home: Path) -> None:
    ckpt = torch_home / "hub" / "checkpoints"
    ckpt.mkdir(parents=True)
    torch.save(R.resnet18_checkpoint(), ckpt / "resnet18-f37072fd.pth")
    torch.save(R.vggish_checkpoint("torchaudio"), ckpt / "vggish.pt")
    ex = Extractor.from_options(ExtractorOptions(visual="resnet18", dtype="bfloat16"))
    p = ex.provenance
    assert p.random is False
    assert p.visual_weights == "sha256:" + sha256_file(ckpt / "resnet18-f37072fd.pth")
    assert p.audio_weights == "sha256:" + sha256_file(ckpt / "vggish.pt")
    assert p.vggish_layout == "torchaudio" and p.dtype == "bfloat16"
