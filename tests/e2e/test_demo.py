"""`avel demo`, the README's main command, on a small number of clips (Label Studio skipped:
the push path it uses is the one tests/e2e/test_loop.py runs against a real server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avel_annotate.cli.main import run

pytestmark = pytest.mark.slow


def test_demo_runs_the_loop_and_a_second_run_reuses_it(
    data_dir: Path, capsys: pytest.CaptureFixture
):
    args = [
        "--data-dir",
        str(data_dir),
        "--no-progress",
        "demo",
        "--clips",
        "6",
        "--epochs",
        "2",
        "--no-labelstudio",
        "--json",
    ]
    assert run(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["clips"], report["fetched"], report["predicted"]) == (6, 6, 6)
    assert report["feature_kind"].endswith("-random") and report["model"] == "demo-1"
    assert report["pushed"] is None and "skipped" in report["labelstudio"]
    page = Path(report["report_path"]).read_text()
    assert "Confusion matrix: demo-1" in page
    assert run(args) == 0  # the same store, clips and features; a second model version
    again = json.loads(capsys.readouterr().out)
    assert (again["fetched"], again["model"], again["predicted"]) == (6, "demo-2", 6)
