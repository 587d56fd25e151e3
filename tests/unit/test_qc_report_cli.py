"""`avel annotate qc report` prints whole clip ids, second names and the next step, literally,
at any width (issue 10 item 5). Before, a Rich table cut the clip ids at 80 columns and named
differing seconds as 0-based indices ("[5]" for the `5-6s` box). The service is replaced by a
fixed report: this tests the rendering only."""

from __future__ import annotations

from pathlib import Path

import pytest

from avel_annotate.cli.main import run
from avel_annotate.domain import agreement as ag
from avel_annotate.services import qc, qc_report

CLIP = "-_aB3dEfGh1_000120"
WAITING = "2 drawn clip(s) wait for their re-check: annotators other than the first ..."


def _report() -> qc.QcReport:
    figs = ag.figures([ag.LabelPair("1111100000", "1111110000", "dog", "dog")])
    pair = qc.RecheckPair(
        CLIP,
        7,
        12,
        19,
        "[bold]ann@lab.example",
        "bob@lab.example",
        "1111100000",
        "1111110000",
        "dog",
        "dog",
        [5],
        "open",
        ["5-6s"],
        qc_report._next_step("open", CLIP, 12, 19),
    )
    return qc.QcReport(1, 1, 0, figs, {}, {}, {}, [pair], [], pending_next_step=WAITING)


@pytest.mark.parametrize("columns", ["40", "200"])
def test_report_is_whole_at_any_width(
    columns: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
):
    monkeypatch.setenv("COLUMNS", columns)
    monkeypatch.setattr(qc, "qc_report", lambda _settings, **_options: _report())
    assert run(["--data-dir", str(tmp_path), "annotate", "qc", "report"]) == 0
    out = capsys.readouterr().out
    assert f"- clip {CLIP} (task 7): open" in out.splitlines()
    assert "  seconds differing: 5-6s" in out.splitlines()
    assert "annotation 12 by [bold]ann@lab.example" in out  # literal, not markup
    assert f"  next: {WAITING}" in out.splitlines()  # the waiting clips have a next step too
    assert f"  next: avel annotate adjudicate {CLIP} --accept 12 | --accept 19 | --third-pass" in (
        out.splitlines()
    )
