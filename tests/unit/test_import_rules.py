"""The layer rules hold, and they would catch a wrong import if one were planted.

Two checks: the import-linter contracts in pyproject (run on a copy of the package with one
wrong import planted, so a contract that cannot fail would show here), and an allow-list for
``domain/`` (the standard library and numpy; import-linter can only forbid named packages).
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "avel_annotate"
DOMAIN_ALLOWED = {"numpy", "avel_annotate"}
DOMAIN_OWN = ("avel_annotate.domain", "avel_annotate.config", "avel_annotate.errors",
              "avel_annotate.fileio")  # fmt: skip


def foreign_imports(source: str) -> list[str]:
    """The modules a domain file imports that are neither the standard library, numpy, nor the
    domain and the layers under it."""
    bad = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if top == "avel_annotate":
                if not name.startswith(DOMAIN_OWN):
                    bad.append(name)
            elif top not in sys.stdlib_module_names and top not in DOMAIN_ALLOWED:
                bad.append(name)
    return bad


def test_domain_imports_only_the_standard_library_and_numpy() -> None:
    found = {
        str(path.relative_to(ROOT)): foreign_imports(path.read_text(encoding="utf-8"))
        for path in sorted((PACKAGE / "domain").rglob("*.py"))
    }
    assert {path: bad for path, bad in found.items() if bad} == {}
    assert len(found) > 10  # the walk saw the package


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import numpy as np\nfrom collections import Counter\n", []),
        ("from avel_annotate.errors import AvelError\n", []),
        ("import rich\n", ["rich"]),
        ("from sqlalchemy.orm import Session\n", ["sqlalchemy.orm"]),
        ("from avel_annotate.store.tables import Clip\n", ["avel_annotate.store.tables"]),
        ("def f():\n    import torch\n", ["torch"]),
    ],
)
def test_the_domain_allow_list_catches_a_planted_import(source: str, expected: list[str]) -> None:
    assert foreign_imports(source) == expected


SVC = "avel_annotate.services._planted -> "
DOM = "avel_annotate.domain._planted -> "
PLANTS = [
    # (file to plant, its content, the line import-linter must print)
    ("services/_planted.py", "import sqlalchemy\n", SVC + "sqlalchemy"),
    ("services/_planted.py", "import torch\n", SVC + "torch"),
    ("services/_planted.py", "import subprocess\n", SVC + "subprocess"),
    ("services/_planted.py", "import av\n", SVC + "av"),
    ("domain/_planted.py", "import rich\n", DOM + "rich"),
    ("domain/_planted.py", "from avel_annotate.store import tables\n",
     DOM + "avel_annotate.store"),
    ("cli/_planted.py", "import torch\n", "avel_annotate.cli._planted -> torch"),
]  # fmt: skip


@pytest.fixture(scope="module")
def lint_imports() -> str:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which(
        "lint-imports"
    )
    if exe is None:
        pytest.fail("lint-imports is not installed (pip install -e '.[dev]')")
    return exe


@pytest.mark.parametrize(("where", "content", "expected"), PLANTS)
def test_a_planted_wrong_import_breaks_a_contract(
    tmp_path: Path, lint_imports: str, where: str, content: str, expected: str
) -> None:
    shutil.copytree(
        PACKAGE, tmp_path / "avel_annotate", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "avel_annotate" / where).write_text(content, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run(
        [lint_imports, "--no-cache"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    out = done.stdout + done.stderr
    assert done.returncode != 0, out[-2000:]
    assert expected in out, out[-3000:]
    # the copy, not the installed package, was analysed
    assert "_planted" in out
