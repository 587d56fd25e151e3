"""Fetch error classification and retry decisions: tables of real yt-dlp / ffmpeg messages."""

from __future__ import annotations

import pytest

from avel_annotate.domain.fetch_errors import (
    Classification,
    Kind,
    RetryPolicy,
    backoff_s,
    classify,
    decide,
    mask_secrets,
    one_line,
    wants_full_download,
)

P, R, N, M = Kind.PERMANENT, Kind.RATE_LIMIT, Kind.RETRYABLE, Kind.MEDIA
E = Kind.ENVIRONMENT

DOWNLOAD_CASES = [
    ("ERROR: [youtube] abcdefghijk: Video unavailable", "unavailable", P),
    (
        "ERROR: [youtube] abcdefghijk: Video unavailable. This video is unavailable",
        "unavailable",
        P,
    ),
    (
        "ERROR: [youtube] abcdefghijk: Private video. Sign in if you've been granted access to this"
        " video",
        "private",
        P,
    ),
    (
        "ERROR: [youtube] abcdefghijk: Video unavailable. This video has been removed by the "
        "uploader",
        "removed",
        P,
    ),
    (
        "ERROR: [youtube] abcdefghijk: Video unavailable. This video is no longer available because"
        " the YouTube account associated with this video has been terminated.",
        "removed",
        P,
    ),
    (
        "ERROR: [youtube] abcdefghijk: Video unavailable. This video is no longer available "
        "due to a copyright claim by Sony Music",
        "removed",
        P,
    ),
    (
        "ERROR: [youtube] abcdefghijk: Sign in to confirm your age. This video may be "
        "inappropriate for some users.",
        "age_restricted",
        P,
    ),
    (
        "ERROR: [youtube] abcdefghijk: Join this channel to get access to members-only content like"
        " this video, and other exclusive perks.",
        "members_only",
        P,
    ),
    (
        "ERROR: [youtube] abcdefghijk: Video unavailable. The uploader has not made this video "
        "available in your country",
        "geo_blocked",
        P,
    ),
    (
        "ERROR: [generic] missing: Unable to download webpage: HTTP Error 404: Not Found (caused by"
        " <HTTPError 404: Not Found>)",
        "not_found",
        P,
    ),
    ("ERROR: [generic] Unable to download webpage: HTTP Error 410: Gone", "not_found", P),
    ("ERROR: Unsupported URL: http://example.com/", "unsupported_url", P),
    (
        "ERROR: [youtube] abcdefghijk: Requested format is not available. Use --list-formats for a "
        "list of available formats",
        "no_format",
        P,
    ),
    (
        "ERROR: [generic] limited: Unable to download webpage: HTTP Error 429: Too Many Requests "
        "(caused by <HTTPError 429: Too Many Requests>)",
        "rate_limited",
        R,
    ),
    (
        "ERROR: [youtube] abcdefghijk: Sign in to confirm you\u2019re not a bot. Use "
        "--cookies-from-browser or --cookies for the authentication.",
        "bot_check",
        E,
    ),
    ("ERROR: [youtube] abcdefghijk: Sign in to confirm you're not a bot", "bot_check", E),
    (
        "ERROR: [youtube] abcdefghijk: This content isn't available, try again later.",
        "try_later",
        R,
    ),
    ("ERROR: [youtube] abcdefghijk: This live event will begin in 3 hours.", "live_or_upcoming", N),
    (
        "ERROR: [youtube] abcdefghijk: Unable to download API page: HTTP Error 503: Service "
        "Unavailable",
        "server_error",
        N,
    ),
    ("ERROR: unable to download video data: HTTP Error 403: Forbidden", "forbidden", E),
    (
        "ERROR: [youtube] abcdefghijk: Unable to download API page: <urlopen error [Errno -3] "
        "Temporary failure in name resolution>",
        "dns",
        E,
    ),
    (
        "ERROR: [download] Got error: 28986 bytes read, 994119 more expected. Giving up after 2 "
        "retries",
        "network",
        N,
    ),
    ("ERROR: Unable to download webpage: The read operation timed out", "network", N),
    (
        "ERROR: [youtube] abcdefghijk: Unable to download webpage: ('Connection aborted.', "
        "RemoteDisconnected('Remote end closed connection without response'))",
        "network",
        N,
    ),
    ("ERROR: ffmpeg exited with code 1", "download_media", M),
    ("yt-dlp returned but no file was written", "download_media", M),
    ("ERROR: something nobody has seen before", "unknown", N),
]


@pytest.mark.parametrize(("message", "error_class", "kind"), DOWNLOAD_CASES)
def test_download_messages(message: str, error_class: str, kind: Kind) -> None:
    assert classify("download", one_line(message)) == Classification(error_class, kind)


@pytest.mark.parametrize(
    ("stage", "message", "error_class", "kind"),
    [
        ("probe", "the source has no audio stream", "no_audio", P),
        ("probe", "the source has no video stream", "no_video", P),
        ("probe", "the source ends before the clip starts at 30 s", "source_ended", P),
        ("probe", "the downloaded file has no streams", "probe", M),
        ("probe", "normalised mp4 file lasts 9.5 s, not 10 s", "probe", M),
        ("normalise", "Invalid data found when processing input", "ffmpeg", M),
    ],
)
def test_media_messages(stage: str, message: str, error_class: str, kind: Kind) -> None:
    assert classify(stage, message) == Classification(error_class, kind)


POLICY = RetryPolicy(max_attempts=3, retry_delay_s=10, backoff_base_s=60, backoff_max_s=600,
                     max_rate_limit_strikes=3)  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "attempts", "full", "strikes", "status", "retry_in", "pause", "refund", "stop"),
    [
        (P, 1, False, 0, "failed_permanent", None, None, False, False),
        (R, 1, False, 0, "failed_retryable", 60, 60, True, False),
        (R, 1, False, 1, "failed_retryable", 120, 120, True, False),
        (R, 1, False, 2, "failed_retryable", 240, 240, True, True),
        (R, 1, False, 9, "failed_retryable", 600, 600, True, True),
        (N, 1, False, 0, "failed_retryable", 10, None, False, False),
        (N, 2, False, 0, "failed_retryable", 20, None, False, False),
        (N, 3, False, 0, "failed_permanent", None, None, False, False),
        (M, 1, False, 0, "failed_retryable", 0, None, False, False),
        (M, 2, True, 0, "failed_permanent", None, None, False, False),
    ],
)
def test_decide(
    kind: Kind,
    attempts: int,
    full: bool,
    strikes: int,
    status: str,
    retry_in: float | None,
    pause: float | None,
    refund: bool,
    stop: bool,
) -> None:
    d = decide(
        Classification("x", kind),
        attempts=attempts,
        full_download=full,
        rate_limit_strikes=strikes,
        policy=POLICY,
    )
    assert (d.status, d.retry_in_s, d.pause_host_s, d.refund_attempt, d.stop_run) == (
        status, retry_in, pause, refund, stop,
    )  # fmt: skip


def test_backoff_doubles_and_caps() -> None:
    assert [backoff_s(n, 1, 5) for n in range(5)] == [1, 2, 4, 5, 5]


@pytest.mark.parametrize(
    ("previous", "full"), [(None, False), ("network", False), ("ffmpeg", True), ("probe", True),
                           ("download_media", True), ("no_audio", False)]
)  # fmt: skip
def test_full_download_after_media_failure(previous: str | None, full: bool) -> None:
    assert wants_full_download(previous) is full


def test_secrets_masked() -> None:
    text = "proxy http://bob:s3cret@proxy.example:3128 refused"
    assert mask_secrets(text) == "proxy http://***@proxy.example:3128 refused"
    assert "s3cret" not in one_line("ERROR: \x1b[0;31mvia socks5://u:p@h:1\x1b[0m  timed out")
