"""The sizes docs/ARCHITECTURE.md promises a newcomer: no function over 60 lines anywhere in the
package, no service module over 400 lines, no module over 500 (split at ~500)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import avel_annotate

PACKAGE = Path(avel_annotate.__file__).parent
MAX_FUNCTION_LINES = 60
MAX_SERVICE_LINES = 400
MAX_MODULE_LINES = 500


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _long_functions(path: Path, limit: int) -> list[str]:
    """``file:line name (lines)`` of every function (methods and nested ones too) over
    ``limit`` lines, counting its ``def`` line and decorators-free body."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            n = (node.end_lineno or node.lineno) - node.lineno + 1
            if n > limit:
                out.append(f"{path.name}:{node.lineno} {node.name} ({n})")
    return out


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_no_function_is_longer_than_sixty_lines() -> None:
    offenders = [
        f"{p.parent.name}/{f}" for p in _modules() for f in _long_functions(p, MAX_FUNCTION_LINES)
    ]
    assert offenders == [], "split these by concern:\n" + "\n".join(offenders)


def test_service_and_other_modules_stay_small() -> None:
    offenders = []
    for p in _modules():
        limit = MAX_SERVICE_LINES if p.parent.name == "services" else MAX_MODULE_LINES
        if _lines(p) > limit:
            offenders.append(f"{p.relative_to(PACKAGE.parent)}: {_lines(p)} lines > {limit}")
    assert offenders == [], "\n".join(offenders)


@pytest.mark.parametrize(("body_lines", "flagged"), [(58, False), (59, True)])
def test_the_counter_counts_the_def_line_and_the_body(
    tmp_path: Path, body_lines: int, flagged: bool
) -> None:
    """A method of 1 def line + 59 body lines is 60 lines (allowed); one more is flagged."""
    src = tmp_path / "m.py"
    body = "".join(f"        x{i} = {i}\n" for i in range(body_lines))
    src.write_text(f"class C:\n    def f(self):\n{body}        return 0\n", encoding="utf-8")
    assert bool(_long_functions(src, MAX_FUNCTION_LINES)) is flagged
