"""`avel export` never replaces existing files unless --force."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avel_annotate.cli.main import run
from avel_annotate.config import Settings
from tests.integration.test_predict_export import labelled_store  # noqa: F401 (fixture)


def _export(s: Settings, out: Path, fmt: str, *extra: str) -> list[str]:
    return ["--data-dir", str(s.data_dir), "--no-progress", "export", str(out), "--format", fmt,
            "--labels", "list", "--allow-random-features", "--json", *extra]  # fmt: skip


@pytest.mark.parametrize(
    ("fmt", "planted"),
    [("ave-h5", "Annotations.txt"), ("ave-h5", "visual_feature.h5"), ("ave-h5", "val_order.h5"),
     ("jsonl", "labels.jsonl"), ("csv", "labels.csv.card.md")],
)  # fmt: skip
def test_existing_files_are_kept_unless_force(
    labelled_store: Settings,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    fmt: str,
    planted: str,
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / planted).write_text("mine")
    assert run(_export(labelled_store, out, fmt)) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        f"error: export would overwrite {out / planted}; nothing was written "
        "(pass --force to replace them, or export to another folder)"
    )
    assert [p.name for p in out.iterdir()] == [planted]
    assert (out / planted).read_text() == "mine"
    assert run(_export(labelled_store, out, fmt, "--force")) == 0
    files = {Path(f).name for f in json.loads(capsys.readouterr().out)["files"]}
    assert planted in files or planted.endswith(".card.md")
    assert (out / planted).read_bytes() != b"mine"  # replaced, as asked
