"""`--device auto`: CUDA when available, else CPU; a CUDA device that is not there is refused."""

from __future__ import annotations

import pytest

from avel_annotate.domain.device import resolve_device
from avel_annotate.errors import ConfigError
from avel_annotate.services.device import pick_device


@pytest.mark.parametrize(
    ("requested", "available", "count", "expected"),
    [
        ("auto", True, 1, "cuda"),
        ("auto", False, 0, "cpu"),
        ("auto", True, 0, "cpu"),  # runtime present, no device visible
        (None, True, 2, "cuda"),
        (None, False, 0, "cpu"),
        (" AUTO ", True, 1, "cuda"),
        ("cpu", True, 1, "cpu"),
        ("cuda", True, 1, "cuda"),
        ("cuda:1", True, 2, "cuda:1"),
    ],
)
def test_resolution(requested, available, count, expected) -> None:
    assert resolve_device(requested, cuda_available=available, cuda_count=count) == expected


@pytest.mark.parametrize(
    ("requested", "available", "count", "says"),
    [
        ("cuda", False, 0, "CUDA is not available"),
        ("cuda:0", False, 0, "CUDA is not available"),
        ("cuda:2", True, 2, "has 2 CUDA device(s)"),
        ("gpu", True, 1, "unknown device 'gpu'"),
        ("cuda:x", True, 1, "unknown device"),
        ("mps", False, 0, "unknown device"),
    ],
)
def test_refusals_name_the_fix(requested, available, count, says) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_device(requested, cuda_available=available, cuda_count=count)
    assert says in info.value.one_line() and "(use " in info.value.one_line()


def test_pick_device_uses_the_injected_probe() -> None:
    assert pick_device("auto", cuda_probe=lambda: (True, 1)) == "cuda"
    assert pick_device("auto", cuda_probe=lambda: (False, 0)) == "cpu"
    with pytest.raises(ConfigError):
        pick_device("cuda", cuda_probe=lambda: (False, 0))
