"""Decode clips in worker processes, ahead of the model, results in input order.

:func:`iter_decoded` runs a caller's decode function (``(mp4, wav) -> (frames, wav)``; it must
be picklable, e.g. a module-level function or a ``functools.partial`` of one) over many clips:

- ``workers == 0``: in this process, on one look-ahead thread (the reference path);
- ``workers >= 1``: in that many *spawned* worker processes (never forked: the parent holds
  torch threads and open files). Each worker owns one pipe and decodes one clip at a time.

Memory is bounded: at most ``lookahead`` decoded clips exist at once (in workers or waiting
here). A clip whose decode raises comes back with that exception (it crossed the pipe intact);
a worker that dies (segfault, OOM kill) fails only the clip it held, and a fresh worker takes
its place. Workers ignore SIGINT (Ctrl-C stops the parent, whose cleanup stops them), exit when
their pipe closes, and watch the parent's sentinel, so a killed parent leaves no orphans.

This module imports neither torch nor the decoder, and a worker does not re-run the parent's
``__main__`` (see :func:`_main_module_hidden`), so a worker starts with numpy and whatever the
decode function's module needs; that function must therefore live in an importable module.
"""

from __future__ import annotations

import contextlib
import mmap
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import sys
import threading
import time
import types
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.reduction import recv_handle, send_handle
from pathlib import Path
from typing import Any

import numpy as np

from avel_annotate.errors import FeatureError

DecodeFn = Callable[[Path, Path], tuple[np.ndarray, np.ndarray]]
SHARE_FRAMES = hasattr(os, "memfd_create")  # Linux; elsewhere the frames are pickled
MAX_DEFAULT_WORKERS = 16
TASKS_PER_WORKER = 2  # clips sent ahead to one worker (paths only; it decodes one at a time)


def available_cores() -> int:
    """CPU cores this process may run on (affinity-aware where the OS tells)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def default_workers(device: str, cores: int | None = None) -> int:
    """Decode processes by default: on a GPU all cores but the feeding one (capped at 16);
    on the CPU one, since the model's own threads want the cores."""
    cores = available_cores() if cores is None else cores
    if device.startswith("cuda"):
        return max(1, min(MAX_DEFAULT_WORKERS, cores - 1))
    return 1


@dataclass
class Decoded:
    """One clip's decode: arrays, or the exception that stopped it."""

    clip_id: str
    frames: np.ndarray | None = None
    wav: np.ndarray | None = None
    error: BaseException | None = None
    wall_s: float = 0.0
    cpu_s: float = 0.0  # CPU time of the decoding process/threads for this clip


def _timed(
    decode_fn: DecodeFn, mp4: Path, wav: Path
) -> tuple[np.ndarray, np.ndarray, float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    frames, audio = decode_fn(mp4, wav)
    return frames, audio, time.perf_counter() - t0, time.process_time() - c0


# --- the worker process --------------------------------------------------------------------


def _exit_with_parent() -> None:
    parent = multiprocessing.parent_process()
    if parent is None:  # pragma: no cover - only ever started as a child
        return
    multiprocessing.connection.wait([parent.sentinel])
    os._exit(3)


def _portable(error: BaseException) -> BaseException:
    """The exception itself when it survives pickling, else a FeatureError naming it."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return FeatureError(f"{type(error).__name__}: {error}")
    return error


def _worker_main(conn: Connection, decode_fn: DecodeFn) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, name="avel-parent-watch", daemon=True).start()
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        mp4, wav = task
        try:
            frames, audio, wall_s, cpu_s = _timed(decode_fn, mp4, wav)
        except Exception as e:
            reply: tuple[Any, ...] = ("error", _portable(e))
            frames = None
        try:
            if frames is None:
                conn.send(reply)
            elif SHARE_FRAMES:
                _send_shared(conn, np.ascontiguousarray(frames), audio, wall_s, cpu_s)
            else:
                conn.send(("ok", frames, audio, wall_s, cpu_s))
        except (BrokenPipeError, OSError):
            return


def _send_shared(
    conn: Connection, frames: np.ndarray, audio: np.ndarray, wall_s: float, cpu_s: float
) -> None:
    """The frames (24 MB a clip) go through an anonymous memory file whose descriptor crosses
    the socket, not through the socket itself: one copy here, none in the parent, and no
    ping-pong of 200 KB socket buffers (which on a loaded machine made every clip wait on the
    scheduler hundreds of times; benchmarks/results/decode_workers.json)."""
    fd = os.memfd_create("avel-frames", os.MFD_CLOEXEC)
    try:
        view = frames.data.cast("B")
        done = 0
        while done < len(view):
            done += os.write(fd, view[done:])
        conn.send(("shared", frames.shape, frames.dtype.str, audio, wall_s, cpu_s))
        send_handle(conn, fd, os.getppid())
    finally:
        os.close(fd)


def _receive_shared(conn: Connection, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """The frames of :func:`_send_shared`: a private (copy-on-write) map of the memory file."""
    fd = recv_handle(conn)
    try:
        count = int(np.prod(shape))
        if count == 0:
            return np.empty(shape, dtype=dtype)
        size = count * np.dtype(dtype).itemsize
        mm = mmap.mmap(fd, size, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    finally:
        os.close(fd)
    return np.frombuffer(mm, dtype=dtype, count=count).reshape(shape)


# --- the parent side -----------------------------------------------------------------------


class _Worker:
    def __init__(self, ctx: Any, decode_fn: DecodeFn) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.process: BaseProcess = ctx.Process(
            target=_worker_main, args=(child, decode_fn), name="avel-decode", daemon=True
        )
        # the child starts with SIGINT ignored from its first instruction, and without
        # re-running the parent's main module (spawn would: `avel` and the benchmarks import
        # torch there, seconds and hundreds of MB per worker for nothing)
        with _sigint_ignored(), _main_module_hidden():
            self.process.start()
        child.close()
        # indices of the clips sent to it, oldest (the one it decodes) first; a second one waits
        # in its socket, so it starts the next clip without waiting for this process to wake up
        self.tasks: deque[int] = deque()

    def stop(self, timeout: float = 2.0) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout)
        self.conn.close()


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """While a spawn child is prepared: a bare ``__main__``, so the child imports only what
    unpickling its target needs (the worker code and the decode function's module)."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _Pool:
    """The parent's book-keeping of a process pool: clips read ahead (``lookahead``), sent to a
    worker (two at most each), decoded and waiting to be yielded in order; a worker that dies
    is replaced, its clip reported failed and its waiting clip sent again."""

    def __init__(
        self, items: Iterable[tuple[str, Path, Path]], decode_fn: DecodeFn, lookahead: int
    ) -> None:
        self.ctx = multiprocessing.get_context("spawn")
        self.decode_fn = decode_fn
        self.source = iter(items)
        self.lookahead = lookahead
        self.queue: deque[tuple[int, str, Path, Path]] = deque()  # read, not yet sent
        self.ids: dict[int, str] = {}
        self.sent: dict[int, tuple[Path, Path]] = {}
        self.done: dict[int, Decoded] = {}
        self.next_index = 0  # next index to read from source
        self.next_out = 0  # next index to yield
        self.pool: list[_Worker] = []
        self.exhausted = False

    def start(self, workers: int) -> None:
        self.fill()
        n = min(workers, max(1, len(self.queue)))
        self.pool.extend(_Worker(self.ctx, self.decode_fn) for _ in range(n))
        self.dispatch()

    def fill(self) -> None:
        while not self.exhausted and self.next_index - self.next_out < self.lookahead:
            item = next(self.source, None)
            if item is None:
                self.exhausted = True
                return
            clip_id, mp4, wav = item
            self.ids[self.next_index] = clip_id
            self.sent[self.next_index] = (Path(mp4), Path(wav))
            self.queue.append((self.next_index, clip_id, Path(mp4), Path(wav)))
            self.next_index += 1

    def dispatch(self) -> None:
        for depth in range(1, TASKS_PER_WORKER + 1):  # every worker one clip, then a second
            for i, w in enumerate(self.pool):
                if len(w.tasks) < depth and self.queue:
                    index, _, mp4, wav = self.queue.popleft()
                    try:
                        w.conn.send((mp4, wav))
                    except OSError:  # it died while idle: a successor gets the clip
                        w.stop(0.1)
                        self.pool[i] = w = _Worker(self.ctx, self.decode_fn)
                        w.conn.send((mp4, wav))
                    w.tasks.append(index)

    def wait(self) -> None:
        """Block until some worker answers (or dies); record what it decoded."""
        busy = {w.conn: w for w in self.pool if w.tasks}
        sentinels = {w.process.sentinel: w for w in self.pool if w.tasks}
        for handle in multiprocessing.connection.wait([*busy, *sentinels]):
            w = busy.get(handle) or sentinels.get(handle)  # type: ignore[arg-type]
            if w is not None and w.tasks:
                self._receive(w)
        self.dispatch()

    def _receive(self, w: _Worker) -> None:
        index = w.tasks.popleft()
        try:
            reply = w.conn.recv()
            if reply[0] == "shared":
                _, shape, dtype, audio, wall_s, cpu_s = reply
                frames = _receive_shared(w.conn, shape, dtype)
                reply = ("ok", frames, audio, wall_s, cpu_s)
        except (EOFError, OSError, RuntimeError):  # RuntimeError: no descriptor came
            reply = None
        if reply is None:  # the worker died holding this clip
            self._replace_dead(w, index)
        elif reply[0] == "ok":
            _, frames, wav, wall_s, cpu_s = reply
            self.done[index] = Decoded(self.ids[index], frames, wav, None, wall_s, cpu_s)
        else:
            self.done[index] = Decoded(self.ids[index], error=reply[1])

    def _replace_dead(self, w: _Worker, index: int) -> None:
        w.process.join(1.0)
        code = w.process.exitcode
        self.done[index] = Decoded(
            self.ids[index],
            error=FeatureError(
                f"the decode worker process died (exit code {code}) while decoding this clip",
                "check the file with ffprobe; re-fetch it (`avel fetch --force`)",
            ),
        )
        for waiting in reversed(w.tasks):  # not started: back to the queue
            self.queue.appendleft((waiting, self.ids[waiting], *self.sent[waiting]))
        w.tasks.clear()
        w.conn.close()
        self.pool[self.pool.index(w)] = _Worker(self.ctx, self.decode_fn)

    def pop_next(self) -> Decoded:
        """The next clip in order (decoded already); reads ahead and sends more."""
        result = self.done.pop(self.next_out)
        del self.ids[self.next_out], self.sent[self.next_out]
        self.next_out += 1
        self.fill()
        self.dispatch()
        return result

    def stop(self) -> None:
        for w in self.pool:
            w.stop()


def _iter_processes(
    items: Iterable[tuple[str, Path, Path]], decode_fn: DecodeFn, workers: int, lookahead: int
) -> Generator[Decoded, None, None]:
    pool = _Pool(items, decode_fn, lookahead)
    try:
        pool.start(workers)
        while pool.next_out < pool.next_index:
            while pool.next_out not in pool.done:
                pool.wait()
            yield pool.pop_next()
    finally:
        pool.stop()


def _iter_thread(
    items: Iterable[tuple[str, Path, Path]], decode_fn: DecodeFn, lookahead: int
) -> Generator[Decoded, None, None]:
    source = iter(items)
    pending: deque[tuple[str, Future[tuple[np.ndarray, np.ndarray, float, float]]]] = deque()
    with ThreadPoolExecutor(1, "avel-decode") as pool:

        def top_up() -> None:
            while len(pending) < lookahead:
                item = next(source, None)
                if item is None:
                    return
                clip_id, mp4, wav = item
                pending.append((clip_id, pool.submit(_timed, decode_fn, Path(mp4), Path(wav))))

        try:
            top_up()
            while pending:
                clip_id, future = pending.popleft()
                result = Decoded(clip_id)
                try:
                    result.frames, result.wav, result.wall_s, result.cpu_s = future.result()
                except Exception as e:
                    result.error = e
                top_up()
                yield result
        finally:
            for _, future in pending:
                future.cancel()


def iter_decoded(
    items: Iterable[tuple[str, str | Path, str | Path]],
    decode_fn: DecodeFn,
    *,
    workers: int,
    lookahead: int,
) -> Generator[Decoded, None, None]:
    """A :class:`Decoded` per ``(clip_id, mp4, wav)``, in input order, ``lookahead`` ahead.

    ``workers == 0`` decodes on a thread of this process; ``>= 1`` in that many processes.
    ``lookahead`` (>= 1) bounds how many clips are read ahead of the consumer (decoded or being
    decoded; each worker holds one decoded clip at most); with processes it is raised to
    ``2 * workers`` so every worker has its next clip queued while one clip is consumed.
    """
    if workers < 0 or lookahead < 1:
        raise ValueError("workers must be >= 0 and lookahead >= 1")
    typed = ((c, Path(m), Path(w)) for c, m, w in items)
    if workers == 0:
        return _iter_thread(typed, decode_fn, lookahead)
    return _iter_processes(typed, decode_fn, workers, max(lookahead, TASKS_PER_WORKER * workers))
