"""VGG-19 pool5 / ResNet-18 trunks: torchvision checkpoints load strictly and match a reference."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from avel_annotate.errors import FeatureError
from avel_annotate.features import weights as W
from avel_annotate.features.vgg import (
    CAFFE_MEAN_BGR,
    IMAGENET_MEAN,
    IMAGENET_STD,
    ResNet18Trunk,
    VGG19Pool5,
    preprocess,
)
from tests.unit.features import reference as R


def _save(state: dict[str, torch.Tensor], path: Path) -> Path:
    torch.save(state, path)
    return path


def test_vgg19_has_torchvisions_37_module_layout() -> None:
    net = VGG19Pool5()
    assert len(net.features) == 37
    keys = list(net.state_dict())
    assert keys[0] == "features.0.weight" and keys[-1] == "features.34.bias"
    expected = {f"features.{i}.{p}" for i in R.VGG19_CONV_INDICES for p in ("weight", "bias")}
    assert set(keys) == expected


def test_vgg19_checkpoint_loads_strictly_and_matches_reference(tmp_path: Path) -> None:
    state = R.vgg19_checkpoint()
    path = _save(state, tmp_path / "vgg19-dcbb9e9d.pth")
    net = VGG19Pool5()
    W.load_visual(net, "vgg19", path)
    x = torch.randn(2, 3, 64, 64)  # small input: same weights, cheap; 64 -> 2 after five pools
    with torch.inference_mode():
        ours = net.eval()(x)
        ref = R.vgg19_reference(state, x)
    assert ours.shape == (2, 512, 2, 2)
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-5)


def test_vgg19_full_size_output_is_pool5() -> None:
    with torch.inference_mode():
        out = VGG19Pool5().eval()(torch.zeros(1, 3, 224, 224))
    assert out.shape == (1, 512, 7, 7)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s.pop("features.34.bias"),
        lambda s: s.__setitem__("features.37.weight", torch.zeros(1)),
        lambda s: s.__setitem__("features.0.weight", torch.zeros(64, 3, 5, 5)),
    ],
    ids=["missing", "unexpected", "wrong-shape"],
)
def test_vgg19_loader_refuses_mismatched_files(tmp_path: Path, mutate) -> None:  # type: ignore[no-untyped-def]
    state = R.vgg19_checkpoint()
    mutate(state)
    path = _save(state, tmp_path / "bad.pth")
    with pytest.raises(FeatureError, match=r"bad\.pth: keys do not match"):
        W.load_visual(VGG19Pool5(), "vgg19", path)


def test_not_a_checkpoint_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "garbage.pth"
    path.write_bytes(b"not a zip")
    with pytest.raises(FeatureError, match=r"garbage\.pth"):
        W.load_visual(VGG19Pool5(), "vgg19", path)


@pytest.mark.parametrize("zipfile", [True, False], ids=["zip", "legacy-pickle"])
def test_resnet18_checkpoint_loads_strictly_and_matches_reference(
    tmp_path: Path, zipfile: bool
) -> None:
    state = R.resnet18_checkpoint()
    path = tmp_path / "resnet18-f37072fd.pth"  # the 2017-era hub files use the legacy format
    torch.save(OrderedDict(state), path, _use_new_zipfile_serialization=zipfile)
    net = ResNet18Trunk()
    W.load_visual(net, "resnet18", path)
    x = torch.randn(2, 3, 224, 224)
    with torch.inference_mode():
        ours = net.eval()(x)
        ref = R.resnet18_reference(state, x)
    assert ours.shape == (2, 512, 7, 7)
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4)


def test_preprocessing_modes() -> None:
    frames = torch.randint(0, 256, (2, 4, 5, 3), dtype=torch.uint8)
    f = frames.to(torch.float64)
    tv = preprocess(frames, "torchvision")
    assert tv.shape == (2, 3, 4, 5) and tv.dtype == torch.float32
    for c in range(3):
        want = (f[..., c] / 255.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c]
        torch.testing.assert_close(tv[:, c].double(), want, rtol=1e-5, atol=1e-5)
    caffe = preprocess(frames, "caffe")
    for c_bgr in range(3):  # channel 0 is blue = RGB channel 2
        want = f[..., 2 - c_bgr] - CAFFE_MEAN_BGR[c_bgr]
        torch.testing.assert_close(caffe[:, c_bgr].double(), want, rtol=1e-6, atol=1e-4)
    with pytest.raises(ValueError, match="unknown preprocessing"):
        preprocess(frames, "keras")
