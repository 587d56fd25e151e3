"""The export's dataset card, rendered from the exported rows (pure): a table of cases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from avel_annotate.domain.dataset_card import LABEL_DEFINITION, render_dataset_card


@dataclass(frozen=True)
class Row:
    split: str | None
    category: str | None
    segments: str


AGREE = {"n_pairs": 4, "percent_agreement": 92.5, "kappa": 0.8123, "category_agreement": 100.0}


@pytest.mark.parametrize(
    ("rows", "agreement", "present"),
    [
        (
            [
                Row("test", "Dog", "1" * 10),
                Row("train", "Dog", "0" * 10),
                Row("train", None, "0" * 10),
            ],
            AGREE,
            [
                "as `csv` from curated labels: 3 clips, 33.3 % of seconds are events.",
                "| split | clips |\n|---|---|\n| train | 2 |\n| test | 1 |",  # split order
                "| category | train | test |\n|---|---|---|\n| - | 1 | 0 |\n| Dog | 1 | 1 |",
                "Independent re-checks: 4 clips. Per-second agreement 92.5 %, Cohen's kappa "
                "0.812; category agreement 100.0 %.",
            ],
        ),
        (
            [Row(None, "Cat", "1100000000"), Row("val", "Cat", "0" * 10)],
            None,
            [
                "2 clips, 10.0 % of seconds",
                "| val | 1 |\n| - | 1 |",
                "No independent re-checks recorded.",
            ],
        ),
        ([], {"n_pairs": 0}, ["0 clips, 0.0 %", "No independent re-checks recorded."]),
    ],
)
def test_dataset_card(rows: list[Row], agreement: dict[str, Any] | None, present: list[str]):
    card = render_dataset_card(rows, "curated", "csv", agreement)
    assert card.startswith("# Dataset card\n") and card.endswith("\n")
    assert LABEL_DEFINITION in card
    for text in present:
        assert text in card, text
