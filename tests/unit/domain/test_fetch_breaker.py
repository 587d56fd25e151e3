"""The fetch circuit breaker: consecutive same-class failures trip it; a success resets."""

from __future__ import annotations

from avel_annotate.domain.fetch_breaker import TRIP_AFTER, CircuitBreaker


def test_trips_after_the_class_threshold_with_the_streak() -> None:
    b = CircuitBreaker()
    n = TRIP_AFTER["js_challenge"]
    trips = [b.failure("js_challenge", pk) for pk in range(1, n + 1)]
    assert trips[:-1] == [None] * (n - 1)
    trip = trips[-1]
    assert trip is not None and trip.clip_pks == tuple(range(1, n + 1))
    assert "js_challenge" in trip.reason and "deno" in trip.fix
    assert b.failure("js_challenge", 99) is None  # reported once


def test_a_success_or_another_class_resets_the_streak() -> None:
    b = CircuitBreaker(trip_after={"dns": 3})
    assert b.failure("dns", 1) is None
    assert b.failure("dns", 2) is None
    b.success()
    assert b.failure("dns", 3) is None
    assert b.failure("not_found", 4) is None
    assert b.failure("dns", 5) is None
    assert b.failure("dns", 6) is None
    trip = b.failure("dns", 7)
    assert trip is not None and trip.clip_pks == (5, 6, 7)


def test_local_faults_trip_at_once_and_video_verdicts_never() -> None:
    b = CircuitBreaker()
    for pk in range(100):
        assert b.failure("not_found", pk) is None
    trip = b.failure("disk_full", 100)
    assert trip is not None and trip.count == 1 and "free space" in trip.fix
