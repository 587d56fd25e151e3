"""The AvelError family: every failure the CLI reports to a user is one of these.

Adapters wrap foreign exceptions (yt-dlp, ffmpeg, HTTP, SQLAlchemy, torch) into a subclass with
``raise ... from e``. The message names the object (file and line, clip id, task id, URL) and the
``hint`` says how to fix it; the CLI prints ``error: <message> (<hint>)`` on one line and exits 1.
"""

from __future__ import annotations


class AvelError(Exception):
    """Base class. ``hint`` is the one-line fix shown after the message."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        text = " ".join(self.message.split())
        if self.hint:
            text = f"{text} ({' '.join(self.hint.split())})"
        return text


class ConfigError(AvelError):
    """Bad option, environment variable or config file."""


class StoreError(AvelError):
    """The database could not be reached or refused an operation."""


class SchemaOutdatedError(StoreError):
    """The database is not at the migration head."""


class ClipListError(AvelError):
    """A clip list (CSV / Annotations.txt) has malformed rows; ``problems`` lists them all."""

    def __init__(self, message: str, problems: list[str] | None = None, hint: str | None = None):
        super().__init__(message, hint)
        self.problems = problems or []


class ConflictError(AvelError):
    """Incoming data disagrees with what is stored; nothing was overwritten."""


class InvalidIdError(AvelError):
    """An id (YouTube id, clip id, version name) that could escape a path or is malformed."""


class MediaError(AvelError):
    """yt-dlp, ffmpeg or ffprobe failed on a clip."""


class FeatureError(AvelError):
    """Feature extraction or a feature file failed."""


class WeightsNotFoundError(FeatureError):
    """Pretrained weights were not found where they were looked for."""


class ModelError(AvelError):
    """A model config, checkpoint or training run is invalid."""


class LabelStudioError(AvelError):
    """The Label Studio server is unreachable or refused a call."""


class NotFoundError(AvelError):
    """A named object (model version, project, clip) does not exist."""
