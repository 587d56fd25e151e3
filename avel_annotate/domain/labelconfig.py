"""The Label Studio label config: a template from ``schema/`` plus the category list.

Pure: the caller loads the template text (``schema/label_config.xml``) and passes the category
names from the store; this module escapes them and fills the ``{category_choices}`` slot.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from xml.sax.saxutils import quoteattr

from avel_annotate.domain.segments import N_SEGMENTS

SLOT = "{category_choices}"
VIDEO_NAME = "video"
SEGMENTS_NAME = "segments"
CATEGORY_NAME = "category"
# "0-1s" ... "9-10s": the value of the box of second t is SEGMENT_VALUES[t].
SEGMENT_VALUES: tuple[str, ...] = tuple(f"{t}-{t + 1}s" for t in range(N_SEGMENTS))


def build_label_config(template: str, categories: Sequence[str]) -> str:
    """Fill the category slot with one ``<Choice>`` per name (sorted, XML-escaped, unique)."""
    if template.count(SLOT) != 1:
        raise ValueError(f"label config template must contain {SLOT} exactly once")
    names = sorted(set(categories))
    for name in names:
        if not name.strip():
            raise ValueError("a category name is empty")
        if any(ord(c) < 32 for c in name):
            raise ValueError(f"category name {name!r} contains a control character")
    lines = "\n".join(f"    <Choice value={quoteattr(name)}/>" for name in names)
    return template.replace(SLOT, lines)


def config_sha256(label_config: str) -> str:
    return hashlib.sha256(label_config.encode("utf-8")).hexdigest()
