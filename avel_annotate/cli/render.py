"""Printing reports: a JSON document with ``--json``, else a compact human view.

Everything printed here is literal: clip ids, labels, paths and messages are user data, so no
string is ever read as Rich markup (``[bold]``, ``[/path]``) or as an emoji code (``:smile:``).
Cells and titles are ``Text`` objects and both consoles have markup, emoji and highlighting off;
the only styling is the explicit ``style`` a caller passes.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

_out = Console(soft_wrap=True, markup=False, emoji=False, highlight=False)
err = Console(stderr=True, soft_wrap=True, markup=False, emoji=False, highlight=False)


def literal(value: Any) -> Text:
    """A value as plain text: ``None`` as ``-``, never parsed as markup."""
    return Text("-" if value is None else str(value))


def _table(title: str, **kwargs: Any) -> Table:
    return Table(title=literal(title), title_justify="left", **kwargs)


def _print_table(table: Table) -> None:
    """Print a table without ever cutting a value: to a file or pipe at its natural width (a
    clip id or label is never replaced by an ellipsis), in a terminal folded into its columns."""
    for column in table.columns:
        column.overflow = "fold"
    if _out.is_terminal:
        _out.print(table)
        return
    wide = _out.options.update_width(1_000_000)
    width = max(_out.width, _out.measure(table, options=wide).maximum)
    Console(width=width, soft_wrap=True, markup=False, emoji=False, highlight=False).print(table)


def to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2, sort_keys=False) + "\n")


def kv(title: str, pairs: Mapping[str, Any]) -> None:
    table = _table(title, show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    for key, value in pairs.items():
        table.add_row(literal(key), literal(value))
    _print_table(table)


def counts(title: str, data: Mapping[str, int], key_name: str = "") -> None:
    table = _table(title)
    table.add_column(literal(key_name or "key"))
    table.add_column(literal("count"), justify="right")
    for key, n in sorted(data.items(), key=lambda kv: (-kv[1], kv[0])):
        table.add_row(literal(key), literal(n))
    _print_table(table)


def rows(title: str, columns: Sequence[str], data: Sequence[Sequence[Any]]) -> None:
    table = _table(title)
    for col in columns:
        table.add_column(literal(col))
    for row in data:
        table.add_row(*[literal(v) for v in row])
    _print_table(table)


def line(text: str, style: str | None = None) -> None:
    """One line on stdout, literally; ``style`` (e.g. ``"bold red"``) is the only styling."""
    _out.print(Text(text, style=style or ""))


def say(text: str = "") -> None:
    """One line on stdout, literally and never wrapped or cut: clip ids, second names and
    invite links must survive any terminal width whole."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def columns(rows: Sequence[Sequence[object]]) -> None:
    """Rows (the first one the header) as space-aligned plain columns, each value whole."""
    cells = [[str(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    for row in cells:
        say("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
