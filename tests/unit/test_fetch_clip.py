"""How much of a clip a download holds, and when a short one is believed (table-tested)."""

from __future__ import annotations

from pathlib import Path

import pytest

from avel_annotate.media.download import Downloaded
from avel_annotate.media.probe import MediaInfo, ProbeError
from avel_annotate.services.fetch_clip import content_seconds
from avel_annotate.store.fetch_queue import Claim


def _info(duration_s: float) -> MediaInfo:
    return MediaInfo(duration_s, "h264", "aac", 320, 180, 25.0, duration_s, duration_s, 1000)


@pytest.mark.parametrize(
    ("start_s", "downloaded_s", "source_s", "full", "expected"),
    [
        (5, 10.0, 30.0, False, 10.0),  # a whole section
        (5, 12.0, 30.0, False, 10.0),  # a section a little long: capped at 10 s
        (25, 5.0, 30.0, False, 5.0),  # short, and the source is known to end there
        (5, 30.0, 30.0, True, 10.0),  # a full download, cut locally from the start
        (25, 30.0, 30.0, True, 5.0),  # a full download of a source ending 5 s after the start
        (25, 30.0, None, True, 5.0),  # a full download needs no extractor duration
    ],
)
def test_content_seconds(
    start_s: int, downloaded_s: float, source_s: float | None, full: bool, expected: float
) -> None:
    claim = Claim(1, f"abcdefghijk_{start_s:06d}", "abcdefghijk", start_s, 1, None)
    got = Downloaded(Path("source.mp4"), source_s)
    assert content_seconds(claim, got, _info(downloaded_s), full) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("start_s", "downloaded_s", "source_s", "full", "message"),
    [
        (5, 6.0, None, False, "not known to be there"),  # a cut transfer looks like this
        (5, 6.0, 30.0, False, "not known to be there"),  # the source goes on past the cut
        (40, 30.0, 30.0, True, "ends before the clip starts"),  # start past the end
        (5, 0.01, 5.01, False, "ends before the clip starts"),  # nothing of the clip at all
    ],
)
def test_short_downloads_that_are_not_believed(
    start_s: int, downloaded_s: float, source_s: float | None, full: bool, message: str
) -> None:
    claim = Claim(1, f"abcdefghijk_{start_s:06d}", "abcdefghijk", start_s, 1, None)
    got = Downloaded(Path("source.mp4"), source_s)
    with pytest.raises(ProbeError, match=message):
        content_seconds(claim, got, _info(downloaded_s), full)
