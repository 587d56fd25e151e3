from datetime import datetime

import pytest

from avel_annotate.domain.ls_identity import describe, key_in, project_key

T = datetime(2026, 12, 2, 1, 30, 5, 123456)


def test_key_is_stable_and_names_one_row():
    key = project_key(1, "avel", T)
    assert key == project_key(1, "avel", T) and len(key) == 24
    others = {
        project_key(2, "avel", T),
        project_key(1, "avel2", T),
        project_key(1, "avel", T.replace(microsecond=123457)),
    }
    assert key not in others and len(others) == 3


@pytest.mark.parametrize(
    ("description", "found"),
    [
        (describe("0123456789abcdef01234567"), "0123456789abcdef01234567"),
        ("notes\n" + describe("0123456789abcdef01234567") + "\nmore", "0123456789abcdef01234567"),
        ("", None),
        (None, None),
        ("avel-annotate project 0123", None),  # too short
        ("see avel-annotate project 0123456789abcdef01234567", None),  # not at a line start
    ],
)
def test_key_in_description(description: str | None, found: str | None):
    assert key_in(description) == found
