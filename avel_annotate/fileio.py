"""Atomic file writes and file hashes: the one way the toolkit puts a file on disk.

Every writer goes through :func:`atomic_path`: the content is written to a temporary file in the
target's own folder (so the rename never crosses a file system), flushed to disk with ``fsync``,
renamed onto the target with ``os.replace`` and the folder is synced, so a reader sees the old
file or the whole new one, never a part. On any error the temporary file is removed and the
target is left as it was. Bottom layer: the standard library only, importable from every package.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

TMP_MARK = ".avel-tmp"
_CHUNK = 1 << 22


def temp_sibling(path: Path, suffix: str = "") -> Path:
    """A fresh temporary name beside ``path``: hidden, marked, and keeping ``suffix`` (a tool
    such as ffmpeg picks its output format from the file's extension)."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}{TMP_MARK}{suffix}")


def fsync_file(path: Path) -> None:
    """Flush a file (one this module wrote, or one ffmpeg or yt-dlp wrote) to disk before it is
    renamed in."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _discard(path: Path) -> None:
    with suppress(FileNotFoundError):
        path.unlink()


@contextmanager
def atomic_path(path: Path, *, suffix: str = "", mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path to write ``path``'s new content to (by any means: a tool, a
    library's ``save``); when the block ends it is synced and renamed onto ``path``. If the block
    raises, or leaves no file behind, the temporary file is removed and ``path`` is untouched.
    ``mode`` sets the permission bits before the rename (e.g. ``0o600`` for secrets)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(path, suffix)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"{tmp}: the writer left no file to move onto {path}")
        if mode is not None:
            os.chmod(tmp, mode)
        fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        _discard(tmp)
        raise
    fsync_dir(path.parent)


@contextmanager
def atomic_open(path: Path, *, binary: bool = False, mode: int | None = None) -> Iterator[IO]:
    """An open file whose content replaces ``path`` atomically when the block ends."""
    with atomic_path(path, mode=mode) as tmp:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        fd = os.open(tmp, flags, 0o600 if mode is not None else 0o666)
        if binary:
            with os.fdopen(fd, "wb") as fh:
                yield fh
        else:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                yield fh


def write_bytes(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` atomically."""
    with atomic_open(path, binary=True, mode=mode) as fh:
        fh.write(data)


def write_text(path: Path, text: str, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``text`` (UTF-8, newlines as given) atomically."""
    with atomic_open(path, mode=mode) as fh:
        fh.write(text)


def sha256_file(path: str | Path, chunk_bytes: int = _CHUNK) -> str:
    """The hex SHA-256 of a file, read in chunks (a checkpoint or a video never sits in memory
    whole)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def is_temp(path: Path) -> bool:
    """Whether ``path`` is one of :func:`atomic_path`'s temporary files (left by a killed run)."""
    return TMP_MARK in path.name
