"""The order push sends candidates in, from the plan's predictions (no store, no server)."""

from __future__ import annotations

import pytest

from avel_annotate.errors import ConfigError
from avel_annotate.services.annotate import PushOptions, _ordered, _Plan, _shown
from avel_annotate.store.annotations import PredictionRow, PushCandidate


def _plan(preds: dict[int, tuple[str | None, float]]) -> _Plan:
    cands = [PushCandidate(pk, f"clip{pk}", f"clips/clip{pk}.mp4", None) for pk in range(1, 7)]
    rows = {
        pk: PredictionRow(pk, "1" * 10 if cat else "0" * 10, cat, s)
        for pk, (cat, s) in preds.items()
    }
    return _Plan(1, 0, 0, [], cands, rows, {"dog", "cat"})


PREDS = {1: ("dog", 0.1), 2: ("dog", 0.2), 3: ("dog", 0.3), 4: ("cat", 0.6), 5: ("cat", 0.5)}


@pytest.mark.parametrize(
    ("order", "limit", "expected"),
    [
        ("list", None, [1, 2, 3, 4, 5, 6]),
        ("uncertainty", None, [1, 2, 3, 5, 4, 6]),  # clip 6 has no prediction: last
        ("uncertainty", 3, [1, 2, 3]),
        ("balanced", None, [1, 5, 2, 4, 3, 6]),  # dog and cat in turn, least sure of each
        ("balanced", 2, [1, 5]),
    ],
)
def test_push_order(order, limit, expected):
    opts = PushOptions(model="m", order=order, limit=limit)
    opts.check()
    assert [c.pk for c in _ordered(_plan(PREDS), opts)] == expected


@pytest.mark.parametrize("order", ["uncertainty", "balanced"])
def test_score_orders_need_a_model(order):
    with pytest.raises(ConfigError, match=f"--order {order} needs --model"):
        PushOptions(order=order).check()


@pytest.mark.parametrize(
    ("opts", "message"),
    [
        (PushOptions(prefill_min_score=0.5), "--prefill-min-score needs --model"),
        (PushOptions(model="m", prefill_min_score=1.5), "outside 0-1"),
        (PushOptions(model="m", prefill_min_score=-0.1), "outside 0-1"),
    ],
)
def test_prefill_floor_is_checked(opts, message):
    with pytest.raises(ConfigError, match=message):
        opts.check()


@pytest.mark.parametrize(
    ("floor", "shown"),
    [(None, [1, 2, 3, 4, 5]), (0.3, [3, 4, 5]), (0.55, [4]), (0.0, [1, 2, 3, 4, 5])],
)
def test_prefill_floor_keeps_the_predictions_at_or_above_it(floor, shown):
    plan = _plan(PREDS)
    opts = PushOptions(model="m", prefill_min_score=floor)
    opts.check()
    assert [pk for pk in range(1, 7) if _shown(plan, opts, pk) is not None] == shown
