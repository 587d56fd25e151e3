"""Classify fetch failures and decide what happens next: pure, table-driven, no I/O.

A failure is named by the stage that failed (``download``, ``normalise``, ``probe``) and the
tool's own message (yt-dlp's ``ERROR: ...`` line, ffmpeg's stderr, a probe finding). The first
matching rule of :data:`RULES` gives an ``error_class`` (stored on the clip) and a :class:`Kind`:

- ``permanent``: the video is gone or unusable (unavailable, private, removed, 404, no audio);
- ``rate_limit``: the host is pushing back (HTTP 429, bot check, "try again later"): pause ALL
  downloads with exponential back-off, do not count the attempt;
- ``retryable``: network trouble, 5xx: retry later with a growing delay, up to a cap;
- ``media``: ffmpeg or the probe failed on what was downloaded: retry once with a full download
  and a local cut, then give up;
- ``environment``: the failure says nothing about the video but about this machine or how the
  host treats it (no JavaScript runtime or EJS solver, "Only images are available", a bot check,
  403s, DNS, a full or read-only disk): never a verdict on the clip. The clip goes back to the
  queue with its attempt refunded, and the circuit breaker (``domain.fetch_breaker``) stops the
  run when such failures repeat, naming the fix from :data:`ENV_FIXES`.

Environment rules are also matched against ``hints`` (the warnings yt-dlp printed before it
failed): without a solver YouTube's answer ends in "Requested format is not available", and only
the warnings before it ("n challenge solving failed", "Only images are available") say why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from avel_annotate.domain.vocab import ClipStatus


class Kind(StrEnum):
    PERMANENT = "permanent"
    RATE_LIMIT = "rate_limit"
    RETRYABLE = "retryable"
    MEDIA = "media"
    ENVIRONMENT = "environment"


@dataclass(frozen=True)
class Rule:
    stage: str  # "download", "normalise", "probe" or "*"
    pattern: re.Pattern[str]
    error_class: str
    kind: Kind


def _r(stage: str, pattern: str, error_class: str, kind: Kind) -> Rule:
    return Rule(stage, re.compile(pattern, re.IGNORECASE), error_class, kind)


# The machine's own trouble, whatever stage met it (yt-dlp, ffmpeg or our own writes).
LOCAL_RULES: tuple[Rule, ...] = (
    _r("*", r"No space left on device|Errno 28\b|ENOSPC|Disk quota exceeded", "disk_full",
       Kind.ENVIRONMENT),
    _r("*", r"Read-only file system|Errno 30\b|EROFS", "read_only", Kind.ENVIRONMENT),
    _r("*", r"Permission denied|Errno 13\b", "permission", Kind.ENVIRONMENT),
)  # fmt: skip

# yt-dlp cannot solve YouTube's JavaScript challenges: checked against the warnings too.
SOLVER_RULE = _r(
    "download",
    r"No supported JavaScript runtime|JS runtime|JavaScript runtime"
    r"|challenge solving failed|Signature solving failed|challenge solver|\[jsc\]"
    r"|Only images are available|EJS",
    "js_challenge",
    Kind.ENVIRONMENT,
)

# Order matters: the first match wins. Rate-limit answers come first, since YouTube words some of
# them like an unavailable video ("This content isn't available, try again later").
RULES: tuple[Rule, ...] = (
    *LOCAL_RULES,
    SOLVER_RULE,
    _r("download", r"HTTP Error 429|Too Many Requests", "rate_limited", Kind.RATE_LIMIT),
    _r(
        "download",
        r"confirm you.?re not a bot|confirm you are not a bot"
        r"|not available on this app",
        "bot_check",
        Kind.ENVIRONMENT,
    ),
    _r(
        "download",
        r"Failed to resolve|name resolution|Name or service not known|getaddrinfo failed"
        r"|nodename nor servname",
        "dns",
        Kind.ENVIRONMENT,
    ),
    _r("download", r"try again later|rate.?limit", "try_later", Kind.RATE_LIMIT),
    _r("download", r"private video|video is private", "private", Kind.PERMANENT),
    _r(
        "download",
        r"removed by the uploader|has been removed|account .* terminated"
        r"|has been terminated|no longer available",
        "removed",
        Kind.PERMANENT,
    ),
    _r("download", r"copyright (claim|grounds)", "removed", Kind.PERMANENT),
    _r(
        "download",
        r"sign in to confirm your age|age.restricted|inappropriate for some users",
        "age_restricted",
        Kind.PERMANENT,
    ),
    _r("download", r"members.only|join this channel", "members_only", Kind.PERMANENT),
    _r(
        "download",
        r"not made this video available in your country|blocked it in your country"
        r"|geo.?restrict",
        "geo_blocked",
        Kind.PERMANENT,
    ),
    _r("download", r"HTTP Error (404|410)|\b404\b.*not found", "not_found", Kind.PERMANENT),
    _r("download", r"requested format is not available", "no_format", Kind.PERMANENT),
    _r("download", r"Unsupported URL|is not a valid URL", "unsupported_url", Kind.PERMANENT),
    _r(
        "download",
        r"video unavailable|is unavailable|not available|does not exist",
        "unavailable",
        Kind.PERMANENT,
    ),
    _r(
        "download",
        r"live event will begin|premieres in|is_upcoming|is live",
        "live_or_upcoming",
        Kind.RETRYABLE,
    ),
    _r("download", r"HTTP Error 5\d\d", "server_error", Kind.RETRYABLE),
    _r("download", r"HTTP Error 403|403 Forbidden", "forbidden", Kind.ENVIRONMENT),
    _r(
        "download",
        r"timed? ?out|connection (refused|reset|aborted)|remote end closed"
        r"|network is unreachable|unable to connect"
        r"|IncompleteRead|did not get any data blocks|bytes read, \d+ more expected"
        r"|content.?too.?short|giving up after|SSL|EOF occurred|Errno \d+",
        "network",
        Kind.RETRYABLE,
    ),
    _r(
        "download",
        r"ffmpeg exited|ffmpeg (is )?not found|conversion failed|postprocessing"
        r"|no file was written|empty file",
        "download_media",
        Kind.MEDIA,
    ),
    _r("download", r"No video formats found", "no_format", Kind.PERMANENT),
    _r("probe", r"no audio stream", "no_audio", Kind.PERMANENT),
    _r("probe", r"no video stream", "no_video", Kind.PERMANENT),
    _r("probe", r"source ends before", "source_ended", Kind.PERMANENT),
    _r("probe", r".", "probe", Kind.MEDIA),
    _r("normalise", r".", "ffmpeg", Kind.MEDIA),
)

UNKNOWN = Rule("*", re.compile("."), "unknown", Kind.RETRYABLE)

MEDIA_CLASSES = frozenset(r.error_class for r in RULES if r.kind is Kind.MEDIA)


@dataclass(frozen=True)
class Classification:
    error_class: str
    kind: Kind


def classify(stage: str, message: str, hints: str = "") -> Classification:
    """The first rule of ``stage`` whose pattern occurs in ``message``; unknown -> retryable.

    ``hints`` (yt-dlp's warnings before the error) can only ever make a failure an
    environment one, never a verdict on the clip.
    """
    for rule in RULES:
        if rule.stage not in (stage, "*"):
            continue
        text = f"{message}\n{hints}" if rule.kind is Kind.ENVIRONMENT else message
        if rule.pattern.search(text):
            return Classification(rule.error_class, rule.kind)
    return Classification(UNKNOWN.error_class, UNKNOWN.kind)


# What to fix, per environment class: the circuit breaker's stop line ends with it.
ENV_FIXES: dict[str, str] = {
    "js_challenge": "yt-dlp cannot solve YouTube's JavaScript challenges: reinstall the toolkit "
    "so `yt-dlp[default]` and `deno` are present (`avel doctor` shows the JS runtime and EJS), "
    "or name another runtime with --js-runtime node:/path/to/node",
    "bot_check": "YouTube asks to sign in: pass --cookies cookies.txt or --cookies-from-browser "
    "firefox, or a PO-token provider plugin (docs/fetch.md), or slow down with --rate-limit",
    "forbidden": "the host answers 403 Forbidden to every clip: update yt-dlp, pass --cookies, "
    "or use another --proxy / network",
    "dns": "host names do not resolve: check the network, DNS or --proxy",
    "disk_full": "the disk is full: free space under the data dir (or move it with --data-dir)",
    "read_only": "the data dir is on a read-only file system: remount it or use --data-dir",
    "permission": "the data dir is not writable by this user: fix its permissions or --data-dir",
    "network": "the host does not answer: check the network, the URL template or --proxy",
    "store": "the database cannot be reached: check that its server is running and --db / AVEL_DB",
}


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5  # network/unknown failures before the clip is given up
    retry_delay_s: float = 300.0  # first delay after a retryable failure, doubled each time
    retry_delay_max_s: float = 6 * 3600.0
    backoff_base_s: float = 60.0  # first host pause after a rate-limit answer, doubled each time
    backoff_max_s: float = 3600.0
    max_rate_limit_strikes: int = 6  # consecutive rate-limit answers before the run stops


@dataclass(frozen=True)
class Decision:
    status: str  # the clip's next status
    retry_in_s: float | None  # None: no next attempt time
    pause_host_s: float | None  # pause all downloads this long
    refund_attempt: bool  # a rate-limit answer does not use up an attempt
    stop_run: bool  # too many rate-limit answers in a row


def backoff_s(n: int, base_s: float, max_s: float) -> float:
    """``base * 2**n``, capped: the n-th (0-based) consecutive back-off."""
    return float(min(max_s, base_s * (2 ** max(0, n))))


def decide(
    c: Classification,
    *,
    attempts: int,
    full_download: bool,
    rate_limit_strikes: int,
    policy: RetryPolicy,
) -> Decision:
    """What to do with a clip after failure ``c`` on its ``attempts``-th attempt.

    ``full_download``: the failed attempt already was the full-download fallback.
    ``rate_limit_strikes``: consecutive rate-limit answers before this one.
    """
    if c.kind is Kind.PERMANENT:
        return Decision(ClipStatus.FAILED_PERMANENT, None, None, False, False)
    if c.kind is Kind.ENVIRONMENT:  # back to the queue, as if never tried
        return Decision(ClipStatus.PENDING, None, None, True, False)
    if c.kind is Kind.RATE_LIMIT:
        pause = backoff_s(rate_limit_strikes, policy.backoff_base_s, policy.backoff_max_s)
        stop = rate_limit_strikes + 1 >= policy.max_rate_limit_strikes
        return Decision(ClipStatus.FAILED_RETRYABLE, pause, pause, True, stop)
    if c.kind is Kind.MEDIA:
        if full_download:
            return Decision(ClipStatus.FAILED_PERMANENT, None, None, False, False)
        return Decision(ClipStatus.FAILED_RETRYABLE, 0.0, None, False, False)
    if attempts >= policy.max_attempts:
        return Decision(ClipStatus.FAILED_PERMANENT, None, None, False, False)
    delay = backoff_s(attempts - 1, policy.retry_delay_s, policy.retry_delay_max_s)
    return Decision(ClipStatus.FAILED_RETRYABLE, delay, None, False, False)


def wants_full_download(previous_error_class: str | None) -> bool:
    """The attempt after a media failure downloads the whole source and cuts locally."""
    return previous_error_class in MEDIA_CLASSES


_SECRET_RE = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<cred>[^/@\s]+)@", re.IGNORECASE)


def mask_secrets(text: str) -> str:
    """Hide ``user:password@`` in any URL of ``text`` (proxy URLs, messages that echo them)."""
    return _SECRET_RE.sub(lambda m: f"{m.group('scheme')}***@", text)


def one_line(message: str, max_chars: int = 500) -> str:
    """A tool's message as one line: ANSI codes and whitespace runs folded, length capped."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", message)
    text = " ".join(text.split())
    if text.startswith("ERROR: "):
        text = text[len("ERROR: ") :]
    return mask_secrets(text)[:max_chars]
