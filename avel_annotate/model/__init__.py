"""Plain-PyTorch CPSP model: network, losses, datasets, checkpoints, training (no DB, no LS)."""

from avel_annotate.model.config import ModelConfig
from avel_annotate.model.network import CPSPNet, CPSPOutput, Prediction, predict
from avel_annotate.model.official import load_official

__all__ = ["CPSPNet", "CPSPOutput", "ModelConfig", "Prediction", "load_official", "predict"]
