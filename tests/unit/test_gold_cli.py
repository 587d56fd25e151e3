"""The gold part of `avel annotate qc report`: whole, literal, the flagged annotator marked,
options passed through (the report itself is faked: this tests the command around it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from avel_annotate.cli.main import run
from avel_annotate.domain import agreement as ag
from avel_annotate.domain import gold as dg
from avel_annotate.services import qc
from avel_annotate.services.gold import GoldReport

LONG = "[bold]careless.annotator.with.a.long.address@lab.example"


def _report(threshold: float, min_answers: int) -> qc.QcReport:
    scores = dg.score_gold(
        [dg.GoldComparison("ann@lab", "1111100000", "dog", "1111100000", "dog")] * 3
        + [dg.GoldComparison(LONG, "0000011111", "dog", "1111100000", "dog")] * 3,
        threshold,
        min_answers,
    )
    acceptance = dg.acceptance_bias(
        [dg.Prefilled(LONG, "0000011111", "dog", "0000011111", "dog", "gold", "1111100000", "dog")]
    )
    flagged = [s.annotator for s in scores if s.status == "flagged"]
    gold = GoldReport(threshold, min_answers, 1, 6, scores, flagged, acceptance, ["do x"])
    return qc.QcReport(0, 0, 0, ag.figures([]), {}, {}, {}, [], [], gold=gold)


@pytest.mark.parametrize("columns", ["40", "200"])
def test_gold_section_is_whole_literal_and_marks_the_flagged(
    columns: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
):
    seen: dict[str, Any] = {}

    def fake(_settings: Any, *, gold_threshold: float, gold_min_answers: int) -> qc.QcReport:
        seen.update(threshold=gold_threshold, min_answers=gold_min_answers)
        return _report(gold_threshold, gold_min_answers)

    monkeypatch.setenv("COLUMNS", columns)
    monkeypatch.setattr(qc, "qc_report", fake)
    argv = ["--data-dir", str(tmp_path), "annotate", "qc", "report", "--gold-threshold", "0.9"]
    assert run(argv) == 0
    assert seen == {"threshold": 0.9, "min_answers": 3}
    lines = capsys.readouterr().out.splitlines()
    flagged = [line for line in lines if "FLAGGED" in line]
    assert len(flagged) == 1 and flagged[0].startswith(LONG + "  ")
    assert "0.0 (0/30)" in flagged[0] and "100.0 (3/3)" in flagged[0]
    assert any(line.startswith("ann@lab ") and line.endswith("ok") for line in lines)
    assert "next: do x" in lines
    [kept] = [line for line in lines if line.startswith(LONG) and "FLAGGED" not in line]
    assert "100.0 (1/1)" in kept and "0.0 / 100.0 / 1 (n=1)" in kept
