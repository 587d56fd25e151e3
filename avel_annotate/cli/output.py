"""What a command runs with: the settings, one store opened on first use, and the output mode.

The global callback builds one :class:`Env` and puts it on the Typer context; a command takes it
with :func:`env` and does three things: parse its options, call one service function (passing
``e.store`` and ``e.settings``), and hand the report to ``e.out(json_out).show(report, view)``,
which prints it as JSON with ``--json`` (global or per command) and otherwise calls ``view``, the
command's human rendering. Presentation flags live here, not in the library's settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import typer

from avel_annotate.cli.render import emit_json
from avel_annotate.config import Settings
from avel_annotate.services.store import Store, open_store

T = TypeVar("T")

# the per-command --json option, declared once (the global `avel --json` sets the same mode)
JSON = typer.Option(False, "--json", help="Print the report as JSON.")


@dataclass(frozen=True)
class Output:
    """JSON or human output for one command."""

    json: bool

    def show(self, report: T, view: Callable[[T], None]) -> None:
        """Print ``report``: as one JSON document, or through ``view``."""
        if self.json:
            emit_json(report)
        else:
            view(report)


@dataclass
class Env:
    settings: Settings
    json: bool = False
    verbose: bool = False
    _store: Store | None = field(default=None, repr=False)

    @property
    def store(self) -> Store:
        """The command's store, opened (and its schema checked) the first time it is asked
        for; a command that never touches the database never opens it."""
        if self._store is None:
            self._store = open_store(self.settings)
        return self._store

    def out(self, json_out: bool = False) -> Output:
        return Output(json=self.json or json_out)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def env(ctx: typer.Context) -> Env:
    """The command's Env (set by the global callback)."""
    obj: Any = ctx.find_root().obj
    if not isinstance(obj, Env):  # pragma: no cover - a command run outside `avel`
        raise RuntimeError("avel commands run under the `avel` app's callback")
    return obj
