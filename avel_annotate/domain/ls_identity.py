"""The identity of a store's Label Studio project, kept on the server itself. Pure.

A project is recognised by a key, not by the URL it was reached at: the same server behind
another host name or port, or restored from a backup, holds the same key. The key is derived
from the store's project row (primary key, title, creation time to the microsecond), so no
column is needed for it, and two stores pushing to one server never take each other's
project. The project's description carries it on a line of its own; every task carries it in
its data and meta, next to the clip id.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

MARKER_PREFIX = "avel-annotate project "
_MARKER = re.compile(r"^avel-annotate project ([0-9a-f]{24})\b", re.MULTILINE)


def project_key(project_pk: int, title: str, created_at: datetime) -> str:
    """24 hex characters naming one project of one store."""
    text = f"{project_pk}\n{title}\n{created_at.replace(tzinfo=None).isoformat()}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def describe(key: str) -> str:
    """The project description that carries ``key``."""
    return (
        f"{MARKER_PREFIX}{key} (written by avel annotate push; keep this line: it is how the "
        "toolkit recognises this project under any URL)"
    )


def key_in(description: str | None) -> str | None:
    """The key a project description carries, else None."""
    found = _MARKER.search(description or "")
    return found.group(1) if found else None
