"""Atomic writes: a reader sees the old file or the whole new one; an error leaves no trace."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from avel_annotate import fileio


def _siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


def test_write_replaces_the_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "a" / "card.md"
    fileio.write_text(target, "one\n")
    fileio.write_text(target, "two\r\n")  # newlines are kept as given
    assert target.read_bytes() == b"two\r\n"
    assert _siblings(target) == ["card.md"]


def test_an_error_while_writing_keeps_the_old_file_and_removes_the_temporary(
    tmp_path: Path,
) -> None:
    target = tmp_path / "labels.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError, match="disk gone"), fileio.atomic_open(target) as fh:
        fh.write("new, half")
        raise RuntimeError("disk gone")
    assert target.read_text() == "old\n"
    assert _siblings(target) == ["labels.csv"]


def test_a_writer_that_leaves_no_file_is_an_error(tmp_path: Path) -> None:
    target = tmp_path / "clip.mp4"
    target.write_bytes(b"old")
    with pytest.raises(FileNotFoundError, match="left no file"), fileio.atomic_path(target):
        pass
    assert target.read_bytes() == b"old"


def test_atomic_path_keeps_the_suffix_a_tool_needs(tmp_path: Path) -> None:
    target = tmp_path / "clip.mp4"
    with fileio.atomic_path(target, suffix=".mp4") as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".mp4" and fileio.is_temp(tmp)
        tmp.write_bytes(b"video")
    assert target.read_bytes() == b"video"
    assert _siblings(target) == ["clip.mp4"]


def test_mode_is_set_before_the_file_appears(tmp_path: Path) -> None:
    target = tmp_path / "config.toml"
    fileio.write_text(target, 'token = "x"\n', mode=0o600)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_concurrent_reader_never_sees_a_part(tmp_path: Path) -> None:
    """Readers in a loop while a writer replaces an 8 MB file 20 times: each read is one of the
    complete versions, never a mix or a truncation (a plain open-and-write fails this)."""
    target = tmp_path / "features.npy"
    versions = [bytes([i]) * (8 << 20) for i in range(21)]
    digests = {hashlib.sha256(v).hexdigest() for v in versions}
    fileio.write_bytes(target, versions[0])
    seen: set[str] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.add(hashlib.sha256(target.read_bytes()).hexdigest())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for version in versions[1:]:
            fileio.write_bytes(target, version)
    finally:
        stop.set()
        reader.join()
    assert seen and seen <= digests


def test_a_killed_writer_leaves_the_old_file_and_a_marked_temporary(tmp_path: Path) -> None:
    target = tmp_path / "weights.pt"
    target.write_bytes(b"old")
    code = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from avel_annotate import fileio\n"
        f"with fileio.atomic_open(Path({str(target)!r}), binary=True) as fh:\n"
        "    fh.write(b'new' * 1000); fh.flush(); os._exit(9)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ}, check=False)
    assert done.returncode == 9
    assert target.read_bytes() == b"old"
    left = [p for p in tmp_path.iterdir() if p != target]
    assert len(left) == 1 and fileio.is_temp(left[0])


def test_sha256_file_matches_hashlib(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    data = os.urandom(3 << 20) + b"tail"
    path.write_bytes(data)
    assert fileio.sha256_file(path, chunk_bytes=1 << 20) == hashlib.sha256(data).hexdigest()
