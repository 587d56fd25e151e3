"""Where a feature file came from: weights, preprocessing, decoder, dtype, random or not.

Every feature file carries one of these as JSON, so features made with random weights (or other
weights, preprocessing or precision) can never be mixed into training by accident.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from avel_annotate.errors import FeatureError

RANDOM = "random"


@dataclass(frozen=True)
class Provenance:
    extractor: str  # folder name, e.g. "vgg19_vggish"
    visual_model: str  # "vgg19" | "resnet18" | "ave-released"
    visual_weights: str  # "sha256:<hex>" | "random" | a description for imported features
    audio_model: str  # "vggish" | "ave-released"
    audio_weights: str
    random: bool  # True when any of the weights were random: never train on these
    preprocessing: str  # "torchvision" | "caffe" | "unknown"
    decoder: str  # e.g. "pyav-18.1.0/libavcodec-62.28/swscale-bilinear"
    dtype: str  # compute dtype: "float32" | "bfloat16"
    frames_per_second: int
    audio_postprocess: str = "none"  # "none" | "pca-quantize:sha256:<hex>"
    vggish_layout: str = ""  # "torchvggish" | "torchaudio" | "" (random / imported)
    device: str = "cpu"
    torch_version: str = ""
    package_version: str = ""
    notes: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "provenance") -> Provenance:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise FeatureError(f"{where}: unknown provenance fields {unknown}")
        try:
            return cls(**data)
        except TypeError as e:
            raise FeatureError(f"{where}: incomplete provenance ({e})") from e

    @classmethod
    def from_json(cls, text: str, where: str = "provenance") -> Provenance:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise FeatureError(f"{where}: provenance is not JSON ({e})") from e
        if not isinstance(data, dict):
            raise FeatureError(f"{where}: provenance is not a JSON object")
        return cls.from_dict(data, where)
