"""The model card is a pure rendering of a version's config and metrics: a table of the cases a
reader meets (trained, imported, random-weight features, no stage table)."""

from __future__ import annotations

from typing import Any

import pytest

from avel_annotate.domain.model_card import render_card


def _config(**data: Any) -> dict[str, Any]:
    return {
        "created_at": "2026-01-02T03:04:05+00:00",
        "model": {"head": "event-category", "setting": "fully", "tau": 0.1, "n_categories": 2},
        "train": {"stages": ["psp", "psa_v"], "seed": 7},
        "categories": ["Church bell", "Dog"],
        "data": {"source": "store", **data},
        "device": "cpu",
    }


TRAINED = {
    "val": {"accuracy": 0.75},
    "best_stage": "psa_v",
    "best_epoch": 3,
    "stage_best": {"psp": {"epoch": 1, "val_accuracy": 0.5}, "psa_v": {"epoch": 3,
                                                                      "val_accuracy": 0.75}},
}  # fmt: skip


@pytest.mark.parametrize(
    ("config", "metrics", "present", "absent"),
    [
        (
            _config(),
            TRAINED,
            [
                "# Model card: v1",
                "- Created: 2026-01-02T03:04:05+00:00 with avel-annotate 9.9",
                "- Architecture: CPSP, event-category head, fully supervision, tau 0.1, C = 2",
                "- Training stages: psp, psa_v; seed 7",
                "- Trained on: cpu",
                '- Data: {"source": "store"}',
                "- Validation segment accuracy: 0.7500",
                "the best of the last stage run, psa_v epoch 3",
                "| psp | 1 | 0.5000 | run/best-psp.pt |",
                "| psa_v | 3 | 0.7500 | run/best-psa_v.pt |",
                "0. Church bell\n1. Dog\n",
            ],
            ["random weights"],
        ),
        (  # an official import: no metrics, so no stage table; no device recorded
            {k: v for k, v in _config().items() if k != "device"}
            | {"train": {"stages": ["official"], "seed": None}},
            {},
            [
                "- Validation segment accuracy: nan",
                "- Training stages: official; seed None",
                "- Trained on: unknown",
                "the best of the last stage run, None epoch None",
            ],
            ["| stage |", "random weights"],
        ),
        (
            _config(random_features=True),
            {**TRAINED, "stage_best": {}},
            ["**Trained on features from random weights: a demonstration, not a model.**"],
            ["| stage |"],
        ),
    ],
)
def test_card(
    config: dict[str, Any], metrics: dict[str, Any], present: list[str], absent: list[str]
) -> None:
    card = render_card("v1", config, metrics, "9.9")
    assert card.endswith("\n")
    for text in present:
        assert text in card
    for text in absent:
        assert text not in card
