"""Real yt-dlp lines, as users pasted them into issue trackers, pin the classification.

Each row: the error line yt-dlp raised, the warnings it printed before (``hints``; yt-dlp raises
"Requested format is not available" and says only in a warning that no JS solver ran), the
expected class and kind, and where the line was found. Environment failures are never a
verdict on the clip (``decide`` puts them back to pending with the attempt refunded).
"""

from __future__ import annotations

import pytest

from avel_annotate.domain.fetch_errors import (
    Classification,
    Kind,
    RetryPolicy,
    classify,
    decide,
    one_line,
)

E, P, N, R = Kind.ENVIRONMENT, Kind.PERMANENT, Kind.RETRYABLE, Kind.RATE_LIMIT

NO_RUNTIME = (
    "WARNING: [youtube] No supported JavaScript runtime could be found. Only deno is enabled by "
    "default; to use another runtime add --js-runtimes RUNTIME[:PATH] to your command/config. "
    "YouTube extraction without a JS runtime has been deprecated, and some formats may be "
    "missing. See https://github.com/yt-dlp/yt-dlp/wiki/EJS for details on installing one"
)
N_CHALLENGE = (
    "WARNING: [youtube] jNQXAC9IVRw: n challenge solving failed: Some formats may be missing. "
    "Ensure you have a supported JavaScript runtime and challenge solver script distribution "
    "installed. Review any warnings presented before this message. For more details, refer to "
    "https://github.com/yt-dlp/yt-dlp/wiki/EJS"
)
ONLY_IMAGES = "WARNING: Only images are available for download. use --list-formats to see them"
QUICKJS = (
    'WARNING: [youtube] [jsc] Error solving 2 challenge requests using "quickjs" provider: '
    "Error running QuickJS process (returncode: 1)"
)
NO_FORMAT = (
    "ERROR: [youtube] 2Mar9m0DWOI: Requested format is not available. Use --list-formats for a "
    "list of available formats"
)

# (error line, warnings before it, class, kind, source)
REAL = [
    (
        NO_FORMAT,
        NO_RUNTIME,
        "js_challenge",
        E,
        "https://github.com/sruinz/Video-Download-to-NAS/issues/2 (warning), "
        "https://github.com/yt-dlp/yt-dlp/issues/17586 (error)",
    ),
    (
        "ERROR: [youtube] jNQXAC9IVRw: No video formats found!; please report this issue on "
        "https://github.com/yt-dlp/yt-dlp/issues?q= , filling out the appropriate issue template. "
        "Confirm you are on the latest version using yt-dlp -U",
        N_CHALLENGE,
        "js_challenge",
        E,
        "https://github.com/sworcery/ChannelHoarder/issues/29",
    ),
    (
        "ERROR: [youtube] WIGtCEHpilE: Requested format is not available. Use --list-formats for "
        "a list of available formats",
        ONLY_IMAGES,
        "js_challenge",
        E,
        "https://github.com/yt-dlp/yt-dlp/issues/15911 (warning), "
        "https://github.com/yt-dlp/yt-dlp/issues/16267 (error)",
    ),
    (
        NO_FORMAT,
        QUICKJS,
        "js_challenge",
        E,
        "https://github.com/deniscerri/ytdlnis/issues/1253",
    ),
    (
        # with a working solver and no such warning the same line is about the video
        "ERROR: [youtube] 9rdJJMAd-PA: Requested format is not available. Use --list-formats for a"
        " list of available formats",
        "",
        "no_format",
        P,
        "https://github.com/chelaxian/tg-ytdlp-bot/issues/176",
    ),
    (
        "ERROR: [youtube] : Sign in to confirm you\u2019re not a bot. Use --cookies-from-browser "
        "or --cookies for the authentication. See https://github.com/yt-dlp/yt-dlp/wiki/FAQ#how-do-i-"
        "pass-cookies-to-yt-dlp for how to manually pass cookies.",
        "",
        "bot_check",
        E,
        "https://github.com/kalanakt/All-Url-Uploader/issues/157",
    ),
    (
        "ERROR: [youtube] b-nO6rK8qps: No video formats found!",
        "WARNING: [youtube] The following content is not available on this app.. Watch on the "
        "latest version of YouTube.",
        "bot_check",
        E,
        "https://github.com/alexta69/metube/issues/465",
    ),
    (
        "ERROR: unable to download video data: HTTP Error 403: Forbidden",
        "",
        "forbidden",
        E,
        "https://github.com/yt-dlp/yt-dlp/issues/11876",
    ),
    (
        "ERROR: [youtube:tab] Unable to download webpage: <urllib3.connection.HTTPSConnection "
        "object at 0x72dd0c0b2c10>: Failed to resolve 'www.youtube.com' ([Errno -3] Temporary "
        "failure in name resolution) (caused by TransportError(...))",
        "",
        "dns",
        E,
        "https://github.com/tubearchivist/tubearchivist/issues/961",
    ),
    (
        "WARNING: [youtube] Unable to download webpage: [Errno -3] Temporary failure in name "
        "resolution (caused by TransportError('[Errno -3] Temporary failure in name resolution'))."
        " Giving up after 3 retries",
        "",
        "dns",
        E,
        "https://github.com/Timtam/hitster/issues/25",
    ),
    (
        "ERROR: unable to write data: [Errno 28] No space left on device",
        "",
        "disk_full",
        E,
        "https://github.com/yt-dlp/yt-dlp/issues/2990",
    ),
    (
        "ERROR: [youtube] qaImFO_DgAM: Video unavailable. This content isn\u2019t available.",
        "",
        "unavailable",
        P,
        "https://github.com/yt-dlp/yt-dlp/issues/14095",
    ),
    (
        "ERROR: [youtube] KqM_GGR5lig: This video has been removed by the uploader",
        "",
        "removed",
        P,
        "https://github.com/iejMac/video2dataset/pull/72",
    ),
    (
        "ERROR: [youtube] Cblh2cCXp44: This video is private. If the owner of this video has "
        "granted you access, please sign in.",
        "",
        "private",
        P,
        "https://github.com/iejMac/video2dataset/pull/72",
    ),
    (
        "ERROR: [youtube] 5M-oyVRI4fA: The uploader has not made this video available in your "
        "country",
        "",
        "geo_blocked",
        P,
        "https://github.com/iejMac/video2dataset/pull/72",
    ),
    (
        "ERROR: Unable to download webpage: The read operation timed out (caused by "
        "timeout('The read operation timed out'))",
        "",
        "network",
        N,
        "https://github.com/ytdl-org/youtube-dl/issues/23522",
    ),
]


@pytest.mark.parametrize(("line", "hints", "error_class", "kind", "source"), REAL)
def test_real_yt_dlp_lines(
    line: str, hints: str, error_class: str, kind: Kind, source: str
) -> None:
    got = classify("download", one_line(line), one_line(hints, 2000))
    assert got == Classification(error_class, kind), source


def test_every_row_names_its_source() -> None:
    assert all(source.startswith("https://github.com/") for *_, source in REAL)


@pytest.mark.parametrize(
    "line",
    [line for line, _, _, kind, _ in REAL if kind is Kind.ENVIRONMENT],
)
def test_environment_failures_never_condemn_the_clip(line: str) -> None:
    c = classify("download", one_line(line), one_line(N_CHALLENGE))
    for attempts in (1, 5, 50):
        d = decide(
            c, attempts=attempts, full_download=True, rate_limit_strikes=9, policy=RetryPolicy()
        )
        assert (d.status, d.refund_attempt, d.retry_in_s) == ("pending", True, None)


def test_hints_never_make_a_failure_permanent() -> None:
    # a warning that mentions a removed video does not turn a network error into a verdict
    hint = "WARNING: [youtube] abc: This video has been removed by the uploader"
    got = classify("download", "ERROR: Unable to download webpage: timed out", hint)
    assert got.kind is Kind.RETRYABLE


@pytest.mark.parametrize(
    ("stage", "message", "error_class"),
    [
        (
            "normalise",
            "[out#0/mp4 @ 0x5] Error writing trailer: No space left on device",
            "disk_full",
        ),
        ("probe", "OSError: [Errno 28] No space left on device", "disk_full"),
        ("local", "OSError: [Errno 30] Read-only file system: '/data/clips/ab'", "read_only"),
        ("normalise", "clip.mp4: Permission denied", "permission"),
    ],
)
def test_local_failures_in_any_stage(stage: str, message: str, error_class: str) -> None:
    assert classify(stage, message) == Classification(error_class, Kind.ENVIRONMENT)
