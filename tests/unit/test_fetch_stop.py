"""The fetch run loop's stop, with the worker function replaced (the real workers, downloading
with yt-dlp and ffmpeg, are hit by SIGINT, SIGTERM and SIGKILL in
tests/integration/test_fetch_resume.py).

A CI run found a work folder left behind after Ctrl-C: the KeyboardInterrupt landed in the main
thread's ``Thread.join`` and Python 3.11 then took the running worker for dead (CPython
gh-90882), so the stop removed the folder under its download. These tests send real signals to
this process while ``run_workers`` supervises workers that are still busy when the stop comes.
"""

from __future__ import annotations

import os
import signal
import threading

import pytest

from avel_annotate.config import Settings
from avel_annotate.services import fetch_run
from avel_annotate.services.fetch_options import FetchOptions
from avel_annotate.services.fetch_state import Run
from avel_annotate.services.progress import ProgressBar
from avel_annotate.store.database import Store


def _run(store: Store, settings: Settings, grace_s: float, workers: int = 2) -> Run:
    opts = FetchOptions(
        url_template="http://127.0.0.1:9/{ytid}.mp4", workers=workers, stop_grace_s=grace_s
    )
    return fetch_run.new_run(store, settings, opts, "testhost")


def _signal_later(*delays_s: float, signum: int = signal.SIGINT) -> None:
    for delay in delays_s:
        threading.Timer(delay, os.kill, (os.getpid(), signum)).start()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_stop_waits_for_busy_workers(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch, signum: int
) -> None:
    finished: list[str] = []

    def busy_worker(run: Run) -> None:
        run.stop.wait(30)  # as a download that is under way when the signal comes
        threading.Event().wait(0.8)  # ... and takes a while longer to end
        (run.work_root / threading.current_thread().name).write_text("done")
        finished.append(threading.current_thread().name)

    monkeypatch.setattr(fetch_run, "worker", busy_worker)
    # one worker: the main thread is joining it when the signal comes (two would mask the bug
    # when both end at the same moment)
    run = _run(store, settings, grace_s=20.0, workers=1)
    _signal_later(0.5, signum=signum)
    interrupted, released = fetch_run.run_workers(run, ProgressBar(False, 0, "fetch"))
    assert interrupted and released == 0
    assert run.interrupted.is_set()
    # every worker ended before the run loop returned (and so before its folder is removed)
    assert finished == ["fetch-0"]
    assert [p.name for p in run.work_root.iterdir()] == ["fetch-0"]


def test_second_signal_cuts_the_grace_short(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ended_children = threading.Event()
    how: list[str] = []

    def stubborn_worker(run: Run) -> None:  # ends only when its child process is ended
        how.append("ended with its child" if ended_children.wait(30) else "timed out")

    def terminate_children(grace_s: float = 3.0) -> int:
        ended_children.set()
        return 1

    monkeypatch.setattr(fetch_run, "worker", stubborn_worker)
    monkeypatch.setattr(fetch_run.children, "terminate_children", terminate_children)
    run = _run(store, settings, grace_s=600.0)
    _signal_later(0.3, 0.8)
    interrupted, _ = fetch_run.run_workers(run, ProgressBar(False, 0, "fetch"))
    assert interrupted
    assert how == ["ended with its child"] * 2  # not the 600-s grace, not the workers' timeout


def test_signal_handlers_are_restored(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    monkeypatch.setattr(fetch_run, "worker", lambda run: None)
    interrupted, _ = fetch_run.run_workers(
        _run(store, settings, grace_s=1.0), ProgressBar(False, 0, "fetch")
    )
    assert not interrupted
    assert {s: signal.getsignal(s) for s in before} == before
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C outside the run loop raises as always
        os.kill(os.getpid(), signal.SIGINT)
        threading.Event().wait(5)
