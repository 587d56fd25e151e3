"""`predict(scoring=...)`: the stored score is one of domain.uncertainty's; another name is a
one-line ConfigError naming the choices, raised before any model or store is opened."""

from __future__ import annotations

import numpy as np
import pytest

from avel_annotate.config import Settings
from avel_annotate.domain.uncertainty import SCORERS
from avel_annotate.errors import ConfigError
from avel_annotate.services.predict import predict, prediction_score
from avel_annotate.store.database import Store


def test_unknown_scoring_is_refused_first(store: Store, settings: Settings):
    with pytest.raises(ConfigError) as e:
        predict(store, settings, "no-such-model", scoring="bald")
    assert "unknown score 'bald'" in e.value.one_line()
    assert all(name in e.value.one_line() for name in SCORERS)


@pytest.mark.parametrize("method", sorted(SCORERS))
def test_prediction_score_uses_the_named_scorer(method: str):
    ev, cp = np.array([0.9] * 5 + [0.2] * 5), np.array([0.6, 0.3, 0.1])
    assert prediction_score(ev, cp, method) == pytest.approx(SCORERS[method](ev, cp))
