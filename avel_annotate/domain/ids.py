"""Ids that reach the filesystem: validated here so no id can become a path trick."""

from __future__ import annotations

import re

YTID_RE = re.compile(r"[A-Za-z0-9_-]{11}")
CLIP_ID_RE = re.compile(r"([A-Za-z0-9_-]{11})_(\d{6})")
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
MAX_START_S = 999_999


def is_valid_ytid(ytid: str) -> bool:
    return YTID_RE.fullmatch(ytid) is not None


def make_clip_id(ytid: str, start_s: int) -> str:
    """``f"{ytid}_{start_s:06d}"``, the VGGSound file-name convention."""
    if not is_valid_ytid(ytid):
        raise ValueError(f"bad YouTube id {ytid!r}: must be 11 characters of A-Z a-z 0-9 _ -")
    if not 0 <= start_s <= MAX_START_S:
        raise ValueError(f"start {start_s} out of range 0..{MAX_START_S}")
    return f"{ytid}_{start_s:06d}"


def parse_clip_id(clip_id: str) -> tuple[str, int]:
    match = CLIP_ID_RE.fullmatch(clip_id)
    if match is None:
        raise ValueError(f"bad clip id {clip_id!r}: expected <11-char YouTube id>_<6-digit start>")
    return match.group(1), int(match.group(2))


def is_safe_name(name: str) -> bool:
    """Model version names, project names used in paths: no separators, no leading dot."""
    return NAME_RE.fullmatch(name) is not None and ".." not in name


def shard_of(clip_id: str) -> str:
    """The two-character sub-folder a clip's files go into (keeps folders small).

    Ids may start with ``-``; the shard keeps it (``--``), which is a valid folder name, and the
    toolkit never passes paths to a command line without ``--`` or a full path.
    """
    return clip_id[:2]
