"""A packed feature cache: every clip of a training set in two ``.npy`` files, read by windows.

Per-clip ``.npz`` files cost a file open and a zip parse per clip (~0.6 ms warm), which a GPU
epoch waits on. A packed cache holds the same float16 features as ``visual.npy``
``[N, 10, 7, 7, 512]`` and ``audio.npy`` ``[N, 10, 128]`` (plain NumPy files: ``np.load(...,
mmap_mode="r")`` opens them), with ``labels.npy`` ``[N, 10]``, ``category.npy`` ``[N]`` and
``manifest.json`` (format, clip ids, the hash of the inputs it was built from) beside them.

Reading: a batch of consecutive rows is one private memory map of its byte range, populated
in the reading thread (``MADV_POPULATE_READ``) and handed out as a tensor view, no copy. Rows
that are not consecutive are gathered with ``preadv``. Either way only the live batches are
mapped, so memory stays bounded by the batch size, not by the cache size; the page cache does
the rest. Writes to a delivered tensor are copy-on-write and never reach the file.

Writing: rows are buffered and handed to the kernel in 32 MB writes, which makes the page cache
hold the files in large folios; mapping a batch then costs a tenth of what it costs over
row-by-row writes (see ``WRITE_CHUNK_BYTES``).

Shuffling keeps reads large: ``epoch_batches`` cuts the (sorted) positions into runs of
``batch_size`` consecutive rows, starting at a random offset each epoch, and permutes the runs.
The builder (``services.feature_cache``) writes rows in a seeded random order, all-event clips
first, so every batch is a random sample of its subset and the stage subsets (all / D_ae /
D_bg) are each one contiguous range.

No store or feature-file code here: the model package only sees arrays.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from numpy.typing import NDArray
from torch.utils.data import Dataset

from avel_annotate import fileio
from avel_annotate.errors import ModelError
from avel_annotate.model.data import ClipBatch, ClipExample, Indices, clip_categories

FORMAT = "avel-packed-1"
MANIFEST = "manifest.json"
VISUAL_ROW = (10, 7, 7, 512)
AUDIO_ROW = (10, 128)
DTYPE = np.float16
MADV_POPULATE_READ = getattr(mmap, "MADV_POPULATE_READ", 22)  # Linux >= 5.14
# The writer hands the kernel this many bytes per write(). Measured (docs/model.md, packed
# cache; benchmarks/results/train_data_6k*.json): a cache written one 0.5 MB row at a time sits
# in the page cache as small folios, and mapping a 64 MB batch of them costs ~4-8 ms; written
# in 32 MB pieces it sits in large folios and the same mapping costs ~0.3 ms.
WRITE_CHUNK_BYTES = 32 * 2**20


def _npy_data_offset(f: BinaryIO) -> tuple[int, tuple[int, ...], np.dtype[Any]]:
    version = np.lib.format.read_magic(f)
    read = np.lib.format.read_array_header_1_0
    if version != (1, 0):
        read = np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read(f)
    if fortran:
        raise ValueError("Fortran-ordered array")
    return f.tell(), tuple(shape), np.dtype(dtype)


class PackedWriter:
    """Append clips to a new packed cache folder; ``close`` fsyncs and writes the manifest."""

    def __init__(self, folder: str | Path, n_clips: int) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.n_clips = n_clips
        self.n_written = 0
        self._files: dict[str, BinaryIO] = {}
        self._pending: dict[str, list[bytes]] = {"visual": [], "audio": []}
        self._rows_per_write = max(1, WRITE_CHUNK_BYTES // (int(np.prod(VISUAL_ROW)) * 2))
        for name, row in (("visual", VISUAL_ROW), ("audio", AUDIO_ROW)):
            f = open(self.folder / f"{name}.npy", "wb")  # noqa: SIM115 (closed in close())
            header = {"descr": np.lib.format.dtype_to_descr(np.dtype(DTYPE)),
                      "fortran_order": False, "shape": (n_clips, *row)}  # fmt: skip
            np.lib.format.write_array_header_1_0(f, header)
            self._files[name] = f

    def append(self, visual: NDArray[Any], audio: NDArray[Any]) -> None:
        if visual.shape != VISUAL_ROW or audio.shape != AUDIO_ROW:
            raise ValueError(f"clip shapes {visual.shape} / {audio.shape}")
        if self.n_written >= self.n_clips:
            raise ValueError("more clips than announced")
        self._pending["visual"].append(np.ascontiguousarray(visual, dtype=DTYPE).tobytes())
        self._pending["audio"].append(np.ascontiguousarray(audio, dtype=DTYPE).tobytes())
        self.n_written += 1
        if len(self._pending["visual"]) >= self._rows_per_write:
            self._flush_rows()

    def _flush_rows(self) -> None:
        """One large write per file (bounded: ``WRITE_CHUNK_BYTES`` of visual rows buffered)."""
        for name, rows in self._pending.items():
            if rows:
                self._files[name].write(b"".join(rows))
                rows.clear()

    def close(
        self,
        labels: NDArray[np.int64],
        n_categories: int,
        clip_ids: list[str],
        inputs_sha256: str,
    ) -> None:
        if self.n_written != self.n_clips or len(labels) != self.n_clips:
            raise ValueError(f"wrote {self.n_written} of {self.n_clips} clips")
        self._flush_rows()
        for f in self._files.values():
            f.flush()
            os.fsync(f.fileno())
            f.close()
        labels = np.asarray(labels, dtype=np.int64).reshape(self.n_clips, -1)
        category = clip_categories(labels, n_categories)
        for name, array in (("labels", labels), ("category", category)):
            with fileio.atomic_open(self.folder / f"{name}.npy", binary=True) as fh:
                np.save(fh, array)
        manifest = {"format": FORMAT, "n_clips": self.n_clips, "n_categories": n_categories,
                    "inputs_sha256": inputs_sha256, "clip_ids": clip_ids}  # fmt: skip
        # written last, atomically: a folder with a manifest is a complete cache
        fileio.write_text(self.folder / MANIFEST, json.dumps(manifest))

    def abort(self) -> None:
        self._pending = {"visual": [], "audio": []}
        for f in self._files.values():
            f.close()


def read_manifest(folder: str | Path) -> dict[str, Any] | None:
    """The manifest of a complete cache folder, None when there is none (or it is unreadable)."""
    path = Path(folder) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("format") == FORMAT else None


class PackedClipDataset(Dataset[ClipExample]):
    """A ``ClipDataset`` over a packed cache folder (see the module docstring).

    Batches come back as float16 tensors; the training loop casts them on the device.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        manifest = read_manifest(self.folder)
        if manifest is None:
            raise ModelError(
                f"{self.folder} is not a complete packed feature cache",
                hint="delete the folder; `avel train` rebuilds it",
            )
        self.manifest = manifest
        self.n_categories = int(manifest["n_categories"])
        self.clip_ids: list[str] = list(manifest["clip_ids"])
        self._labels = np.load(self.folder / "labels.npy")
        self._category = np.load(self.folder / "category.npy")
        n = int(manifest["n_clips"])
        self._offsets: dict[str, int] = {}
        for name, row in (("visual", VISUAL_ROW), ("audio", AUDIO_ROW)):
            with open(self.folder / f"{name}.npy", "rb") as f:
                offset, shape, dtype = _npy_data_offset(f)
            if shape != (n, *row) or dtype != DTYPE or len(self._labels) != n:
                raise ModelError(
                    f"{self.folder}/{name}.npy: shape {shape} {dtype}, expected {(n, *row)} "
                    "float16",
                    hint="delete the folder to rebuild it",
                )
            self._offsets[name] = offset
        self._fds: dict[str, int] = {}

    # file descriptors are per process (opened lazily, dropped when pickled)
    def _fd(self, name: str) -> int:
        fd = self._fds.get(name)
        if fd is None:
            fd = self._fds[name] = os.open(self.folder / f"{name}.npy", os.O_RDONLY)
        return fd

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_fds": {}}

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds = {}

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown
            self.close()

    def __len__(self) -> int:
        return len(self._labels)

    def labels(self) -> NDArray[np.int64]:
        return self._labels

    def __getitem__(self, i: int) -> ClipExample:
        b = self.read_batch([i])
        return ClipExample(b.audio[0], b.visual[0], b.segment_labels[0], int(b.category[0]))

    def _map_rows(self, name: str, row: tuple[int, ...], start: int, stop: int) -> torch.Tensor:
        """Rows ``start:stop`` as a tensor view of a private, populated memory map."""
        row_bytes = int(np.prod(row)) * 2
        begin = self._offsets[name] + start * row_bytes
        aligned = begin - begin % mmap.ALLOCATIONGRANULARITY
        length = begin - aligned + (stop - start) * row_bytes
        mm = mmap.mmap(self._fd(name), length, flags=mmap.MAP_PRIVATE,
                       prot=mmap.PROT_READ | mmap.PROT_WRITE, offset=aligned)  # fmt: skip
        with contextlib.suppress(OSError, ValueError, AttributeError):
            # pages read from the disk for this map come in 2 MB folios (cheap to map again
            # next epoch, see WRITE_CHUNK_BYTES) rather than readahead's small ones
            mm.madvise(mmap.MADV_HUGEPAGE)
        try:
            mm.madvise(MADV_POPULATE_READ)  # fault the pages in now, in this (prefetch) thread
        except (OSError, ValueError):  # older kernel: WILLNEED reads ahead at least
            mm.madvise(mmap.MADV_WILLNEED)
        arr = np.frombuffer(mm, dtype=DTYPE, count=(stop - start) * row_bytes // 2,
                            offset=begin - aligned)  # fmt: skip
        return torch.from_numpy(arr.reshape(stop - start, *row))

    def _gather_rows(self, name: str, row: tuple[int, ...], runs: list[tuple[int, int]]) -> Any:
        row_bytes = int(np.prod(row)) * 2
        total = sum(b - a for a, b in runs)
        out = np.empty((total, *row), dtype=DTYPE)
        flat = out.reshape(total, -1).view(np.uint8)
        at = 0
        for a, b in runs:
            want = (b - a) * row_bytes
            offset = self._offsets[name] + a * row_bytes
            got = os.preadv(self._fd(name), [memoryview(flat[at : at + b - a])], offset)  # type: ignore[arg-type]
            if got != want:
                raise ModelError(f"{self.folder}/{name}.npy is truncated",
                                 hint="delete the folder to rebuild it")  # fmt: skip
            at += b - a
        return torch.from_numpy(out)

    def read_batch(self, indices: Indices) -> ClipBatch:
        """Rows at ``indices``, returned in ascending order (``index`` says which)."""
        pos = np.unique(np.asarray(indices, dtype=np.int64))
        n_asked = len(np.asarray(indices))
        if pos.size and (pos[0] < 0 or pos[-1] >= len(self)):
            raise IndexError(f"positions outside 0..{len(self) - 1}")
        breaks = np.flatnonzero(np.diff(pos) != 1) + 1
        starts = np.concatenate([[0], breaks]).astype(np.int64)
        ends = np.concatenate([breaks, [len(pos)]]).astype(np.int64)
        runs = [(int(pos[s]), int(pos[e - 1]) + 1) for s, e in zip(starts, ends, strict=True)]
        if not runs or not pos.size:
            visual = torch.zeros((0, *VISUAL_ROW), dtype=torch.float16)
            audio = torch.zeros((0, *AUDIO_ROW), dtype=torch.float16)
        elif len(runs) == 1:
            visual = self._map_rows("visual", VISUAL_ROW, *runs[0])
            audio = self._gather_rows("audio", AUDIO_ROW, runs)
        else:
            visual = self._gather_rows("visual", VISUAL_ROW, runs)
            audio = self._gather_rows("audio", AUDIO_ROW, runs)
        if n_asked != len(pos):  # repeated positions: expand (a copy, only then)
            asked = np.sort(np.asarray(indices, dtype=np.int64))
            inverse = torch.from_numpy(np.searchsorted(pos, asked))
            visual, audio, pos = visual[inverse], audio[inverse], asked
        return ClipBatch(
            audio,
            visual,
            torch.from_numpy(self._labels[pos]),
            torch.from_numpy(self._category[pos]),
            torch.from_numpy(pos),
        )

    def epoch_batches(
        self, positions: Indices, batch_size: int, *, seed: Any = 0
    ) -> list[NDArray[np.int64]]:
        """Batches of consecutive positions: sorted positions rotated by a random offset, cut
        into ``batch_size`` runs, the runs in a random order (a batch that wraps around the
        end is two runs). Seeded like ``batch_indices``; every position exactly once."""
        pos = np.sort(np.asarray(positions, dtype=np.int64))
        if not pos.size:
            return []
        rng = np.random.default_rng(seed)
        pos = np.roll(pos, -int(rng.integers(len(pos))))
        chunks = [np.sort(pos[i : i + batch_size]) for i in range(0, len(pos), batch_size)]
        return [chunks[i] for i in rng.permutation(len(chunks))]
