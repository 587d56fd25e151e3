"""Printing reports: a JSON document with ``--json``, else a compact human view."""

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

_out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True, highlight=False)


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
    table = Table(title=title, show_header=False, box=None, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in pairs.items():
        table.add_row(str(key), "-" if value is None else str(value))
    _out.print(table)


def counts(title: str, data: Mapping[str, int], key_name: str = "") -> None:
    table = Table(title=title, title_justify="left")
    table.add_column(key_name or "key")
    table.add_column("count", justify="right")
    for key, n in sorted(data.items(), key=lambda kv: (-kv[1], kv[0])):
        table.add_row(key, str(n))
    _out.print(table)


def rows(title: str, columns: Sequence[str], data: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col)
    for row in data:
        table.add_row(*["-" if v is None else str(v) for v in row])
    _out.print(table)


def line(text: str) -> None:
    _out.print(text, highlight=False)
