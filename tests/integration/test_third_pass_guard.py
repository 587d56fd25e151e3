"""Issue 10 item 4 (part): `adjudicate --third-pass` was accepted for a clip without any
disagreement, re-queueing a task nobody needed to label again. It is refused, in one line,
before Label Studio is called (the server here is not even running)."""

from __future__ import annotations

import pytest

from avel_annotate.config import Settings
from avel_annotate.errors import ConfigError
from avel_annotate.services import qc
from avel_annotate.store.database import Store
from tests.integration.labelstudio.conftest import add_clips


def test_third_pass_without_a_disagreement_is_refused(settings: Settings, store: Store):
    (clip,) = add_clips(settings, 1, ["dog"])
    offline = settings.with_(ls_url="http://127.0.0.1:9", ls_api_key="0" * 40)
    with pytest.raises(ConfigError) as info:
        qc.adjudicate(store, offline, clip, third_pass=True, by="lead")
    line = info.value.one_line()
    assert line.startswith(f"clip {clip} has no re-check yet: a third pass is only for an open")
    assert "qc report" in line and "\n" not in line
