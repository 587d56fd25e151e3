"""Decoding in worker processes (real ffmpeg-made media, PyAV): same arrays as in-process, in
input order, bounded look-ahead, per-clip failures, and no orphans when the parent dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from avel_annotate.errors import FeatureError, MediaError
from avel_annotate.features.decode_pool import default_workers, iter_decoded
from avel_annotate.media.decode import decode_clip
from tests.helpers.decode_fns import decode_or_die, decode_raising_unpicklable
from tests.helpers.media import make_source

ROOT = Path(__file__).resolve().parents[2]


def _wav(mp4: Path) -> Path:
    wav = mp4.with_suffix(".wav")
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(mp4), "-vn", "-ac", "1",
         "-ar", "16000", "-c:a", "pcm_s16le", str(wav)],
        check=True,
    )  # fmt: skip
    return wav


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Path, Path]]:
    root = tmp_path_factory.mktemp("decode-pool")
    out = []
    for i, (size, fps) in enumerate([("320x180", 25), ("160x120", 16), ("256x144", 30)]):
        mp4 = make_source(root / f"c{i}.mp4", 3 + i, size=size, fps=fps)
        out.append((f"clip{i}", mp4, _wav(mp4)))
    return out


def test_process_workers_give_the_in_process_arrays_bit_for_bit(media) -> None:
    decode = partial(decode_clip, frames_per_second=4)
    items = media * 2  # six clips over two workers: results must come back in input order
    reference = [decode(mp4, wav) for _, mp4, wav in items]
    for workers in (0, 1, 2):
        got = list(iter_decoded(items, decode, workers=workers, lookahead=2))
        assert [d.clip_id for d in got] == [c for c, _, _ in items]
        for d, (frames, wav) in zip(got, reference, strict=True):
            assert d.error is None and d.frames is not None and d.wav is not None
            assert d.frames.dtype == frames.dtype and d.wav.dtype == wav.dtype
            np.testing.assert_array_equal(d.frames, frames)
            np.testing.assert_array_equal(d.wav, wav)
            assert d.cpu_s > 0 and d.wall_s > 0


def test_failures_stay_per_clip_and_name_the_file(media, tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    die = tmp_path / "die.mp4"
    die.write_bytes(b"")
    (_, mp4, wav) = media[0]
    items = [("a", mp4, wav), ("bad", bad, wav), ("die", die, wav), ("b", mp4, wav)]
    got = list(iter_decoded(items, decode_or_die, workers=2, lookahead=2))
    assert [d.clip_id for d in got] == ["a", "bad", "die", "b"]
    assert isinstance(got[1].error, MediaError) and "bad.mp4: cannot decode video" in str(
        got[1].error
    )
    assert got[1].error.hint  # the hint crossed the pipe too
    assert isinstance(got[2].error, FeatureError) and "exit code 7" in str(got[2].error)
    for d in (got[0], got[3]):  # the pool replaced the dead worker and went on
        assert d.error is None
        np.testing.assert_array_equal(d.frames, decode_clip(mp4, wav, frames_per_second=2)[0])
    # one worker: the clip queued behind the one that killed it goes to its successor
    again = list(iter_decoded([items[2], items[0], items[3]], decode_or_die, workers=1,
                              lookahead=1))  # fmt: skip
    assert [d.clip_id for d in again] == ["die", "a", "b"]
    assert isinstance(again[0].error, FeatureError) and "exit code 7" in str(again[0].error)
    assert again[1].error is None and again[2].error is None
    np.testing.assert_array_equal(again[1].frames, got[0].frames)
    odd = list(iter_decoded(items[:1], decode_raising_unpicklable, workers=1, lookahead=1))
    assert isinstance(odd[0].error, FeatureError) and "Unpicklable: x/c0.mp4" in str(odd[0].error)


def test_look_ahead_is_bounded(media) -> None:
    pulled = 0
    _, mp4, wav = media[1]

    def source() -> Iterator[tuple[str, Path, Path]]:
        nonlocal pulled
        for i in range(50):
            pulled += 1
            yield f"c{i}", mp4, wav

    gen = iter_decoded(source(), partial(decode_clip, frames_per_second=1), workers=2, lookahead=3)
    first = next(gen)
    assert first.error is None
    assert pulled <= 5  # 2 x 2 ahead (each worker has its next clip queued) + the one handed out
    for _ in range(3):
        next(gen)
    assert pulled <= 8
    gen.close()


def test_default_workers() -> None:
    assert default_workers("cuda", cores=16) == 15
    assert default_workers("cuda:1", cores=64) == 16
    assert default_workers("cuda", cores=1) == 1
    assert default_workers("cpu", cores=16) == 1


def _children(pid: int) -> set[int]:
    kids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("PPid:") and int(line.split()[1]) == pid:
                kids.add(int(entry.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in state


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
@pytest.mark.parametrize("how", ["kill", "sigint-parent", "ctrl-c-group"])
def test_no_orphans_when_the_parent_is_killed_or_interrupted(media, how: str) -> None:
    _, mp4, wav = media[0]
    script = textwrap.dedent(
        f"""
        import sys, time
        from functools import partial
        from avel_annotate.features.decode_pool import iter_decoded
        from avel_annotate.media.decode import decode_clip
        items = ((f"c{{i}}", {str(mp4)!r}, {str(wav)!r}) for i in range(1000))
        for d in iter_decoded(items, partial(decode_clip, frames_per_second=2),
                              workers=2, lookahead=2):
            print("decoded", flush=True)
            time.sleep(0.05)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "decoded"
        workers = _children(proc.pid)
        assert len(workers) >= 2  # the two decode workers (plus spawn's resource tracker)
        if how == "kill":
            proc.kill()
        elif how == "sigint-parent":
            proc.send_signal(signal.SIGINT)
        else:  # a terminal's Ctrl-C reaches the whole process group
            os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 30
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [p for p in workers if _alive(p)]
        if how != "kill":  # the parent stopped; the workers ignored the signal silently
            assert proc.stderr is not None
            assert proc.stderr.read().count("KeyboardInterrupt") == 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_workers_do_not_import_torch_or_the_parents_main(media, tmp_path: Path) -> None:
    """A spawned worker would re-run the parent's main module (the `avel` CLI imports torch);
    the pool starts workers with only the decode function's module."""
    probe = tmp_path / "probe.py"
    probe.write_text(textwrap.dedent(
        f"""
        import torch  # the parent has torch, as `avel` does
        from functools import partial
        from avel_annotate.features.decode_pool import iter_decoded
        from tests.helpers.decode_fns import report_modules
        items = [("c0", {str(media[0][1])!r}, {str(media[0][2])!r})]
        (d,) = iter_decoded(items, report_modules, workers=1, lookahead=1)
        print(d.error)
        """
    ))  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(probe)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "modules: torch=False main_has_probe=False"
