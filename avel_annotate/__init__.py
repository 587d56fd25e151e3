"""avel-annotate: build audio-visual event localisation datasets with a model in the loop."""

__version__ = "0.1.0"
