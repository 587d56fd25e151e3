"""End the child processes (ffmpeg, the JS runtime) that yt-dlp and ffmpeg-python started.

A SIGTERM sent to ``avel fetch`` reaches only its own process, not the ffmpeg children yt-dlp
starts (a terminal's Ctrl-C reaches the whole process group, a service manager's or a
scheduler's SIGTERM does not). Neither library hands out its ``Popen``, so the children are
found the portable-enough way: ``/proc/<pid>/stat`` lines whose parent is this process (Linux).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from pathlib import Path

log = logging.getLogger(__name__)


def child_pids(parent: int | None = None) -> list[int]:
    """Running direct children of ``parent`` (default: this process); [] without /proc."""
    me = os.getpid() if parent is None else parent
    pids = []
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ..." - comm may hold spaces and parentheses
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) >= 2 and fields[1].isdigit() and int(fields[1]) == me and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


def terminate_children(grace_s: float = 3.0) -> int:
    """SIGTERM every child, SIGKILL those still there after ``grace_s``; how many were sent."""
    pids = child_pids()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and set(child_pids()) & set(pids):
        time.sleep(0.05)
    for pid in set(child_pids()) & set(pids):
        log.warning("child process %d ignored SIGTERM: killing it", pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return len(pids)
