"""Visual trunks: VGG-19 up to pool5 and ResNet-18 up to layer4 (both ``512 x 7 x 7`` at 224).

The module trees mirror torchvision's parameter names so its checkpoints load strictly:

- :class:`VGG19Pool5` has ``features``: 37 modules (16 conv3x3+ReLU pairs, 5 max-pools), the keys
  ``features.0.weight`` ... ``features.34.bias`` of ``vgg19-dcbb9e9d.pth``;
- :class:`ResNet18Trunk` has ``conv1``/``bn1``/``layer1..4`` of ``resnet18-f37072fd.pth``
  (``fc`` is not built: the trunk stops at layer4).

Preprocessing (:func:`preprocess`) takes uint8 RGB ``[N, H, W, 3]`` and returns float
``[N, 3, H, W]``: "torchvision" = RGB/255 then ImageNet mean/std; "caffe" = BGR, 0-255, minus
the Caffe VGG means (for Caffe-converted weights, as the AVE reference features were made).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

Preprocessing = Literal["torchvision", "caffe"]
PREPROCESSINGS: tuple[str, ...] = ("torchvision", "caffe")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)

# torchvision's configuration "E" (VGG-19): channel counts, "M" = 2x2 max-pool.
VGG19_CFG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
    512, 512, 512, 512, "M", 512, 512, 512, 512, "M",
)  # fmt: skip


def vgg_layers(cfg: tuple[int | str, ...], in_channels: int) -> nn.Sequential:
    """A VGG conv stack: 3x3 conv + ReLU per number, 2x2 max-pool per "M" (torchvision's
    ``features.<i>`` indices, which VGGish's checkpoints share)."""
    layers: list[nn.Module] = []
    in_ch = in_channels
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(in_ch, int(v), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            in_ch = int(v)
    return nn.Sequential(*layers)


class VGG19Pool5(nn.Module):
    """VGG-19 convolution stack to pool5: ``[N, 3, 224, 224] -> [N, 512, 7, 7]``."""

    def __init__(self) -> None:
        super().__init__()
        self.features = vgg_layers(VGG19_CFG, in_channels=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


class BasicBlock(nn.Module):
    """ResNet basic block with torchvision's names (conv1, bn1, conv2, bn2, downsample)."""

    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_ch != out_ch:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18Trunk(nn.Module):
    """ResNet-18 to layer4: ``[N, 3, 224, 224] -> [N, 512, 7, 7]`` (~1.8 GFLOP vs 19.6 for VGG)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = nn.Sequential(BasicBlock(64, 64, 1), BasicBlock(64, 64, 1))
        self.layer2 = nn.Sequential(BasicBlock(64, 128, 2), BasicBlock(128, 128, 1))
        self.layer3 = nn.Sequential(BasicBlock(128, 256, 2), BasicBlock(256, 256, 1))
        self.layer4 = nn.Sequential(BasicBlock(256, 512, 2), BasicBlock(512, 512, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


def preprocess(frames_u8: torch.Tensor, mode: str = "torchvision") -> torch.Tensor:
    """uint8 RGB ``[N, H, W, 3]`` -> float32 ``[N, 3, H, W]`` normalised for the weights.

    The result is channels_last in memory (a free view of the NHWC input), which is what the
    bf16 CPU kernels want.
    """
    if frames_u8.dtype != torch.uint8 or frames_u8.ndim != 4 or frames_u8.shape[-1] != 3:
        raise ValueError(f"expected uint8 [N, H, W, 3], got {frames_u8.dtype} {frames_u8.shape}")
    x = frames_u8.to(torch.float32)
    if mode == "torchvision":
        mean = torch.tensor(IMAGENET_MEAN, device=x.device) * 255.0
        std = torch.tensor(IMAGENET_STD, device=x.device) * 255.0
        x = (x - mean) / std
    elif mode == "caffe":
        x = x.flip(-1) - torch.tensor(CAFFE_MEAN_BGR, device=x.device)
    else:
        raise ValueError(f"unknown preprocessing {mode!r}; choose one of {PREPROCESSINGS}")
    return x.permute(0, 3, 1, 2)


def build_visual(name: str) -> nn.Module:
    """A fresh (randomly initialised) trunk by name: ``vgg19`` or ``resnet18``."""
    if name == "vgg19":
        return VGG19Pool5()
    if name == "resnet18":
        return ResNet18Trunk()
    raise ValueError(f"unknown visual extractor {name!r}; choose vgg19 or resnet18")
