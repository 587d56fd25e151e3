"""A progress bar for long loops: rich on stderr (done/total, failed, rate, ETA), or silent.

Off when ``Settings.progress`` is false (``--no-progress``, ``AVEL_PROGRESS=false``, or ``CI``).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class ProgressBar:
    def __init__(self, enabled: bool, total: int | None, description: str) -> None:
        self.failed = 0
        self.done = 0
        self._bar: Progress | None = None
        if not enabled:
            return
        self._bar = Progress(
            TextColumn("{task.description}", style="bold", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("failed {task.fields[failed]}", markup=False),
            TextColumn("{task.fields[rate]}", markup=False),
            TimeElapsedColumn(),
            TextColumn("ETA", markup=False),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._task = self._bar.add_task(description, total=total, failed=0, rate="")
        self._bar.start()

    def advance(self, n: int = 1, *, failed: bool = False) -> None:
        self.done += n
        self.failed += n if failed else 0
        if self._bar is not None:
            task = self._bar.tasks[0]
            elapsed = task.elapsed or 0.0
            rate = f"{self.done / elapsed * 60:.1f}/min" if elapsed > 0 else ""
            self._bar.update(self._task, advance=n, failed=self.failed, rate=rate)

    def set(self, done: int, failed: int) -> None:
        """Absolute counts, for loops whose progress is counted elsewhere (worker threads)."""
        if done > self.done or failed != self.failed:
            self.failed = failed
            self.advance(done - self.done)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
