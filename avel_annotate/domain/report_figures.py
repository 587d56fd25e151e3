"""Figures made elsewhere (a benchmark's SVG or PNG plot) as a section of the HTML report.

The image is embedded as a ``data:`` URI in an ``<img>``: the page stays one file, and an SVG
shown through ``<img>`` cannot run scripts or load anything. Pure.
"""

from __future__ import annotations

import base64
from html import escape

MIME_BY_SUFFIX = {".svg": "image/svg+xml", ".png": "image/png"}


def figure_section(title: str, mime: str, data: bytes, caption: str = "") -> str:
    if mime not in MIME_BY_SUFFIX.values():
        raise ValueError(f"figures are SVG or PNG, not {mime!r}")
    uri = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    note = f"<p class='note'>{escape(caption)}</p>" if caption else ""
    return (
        f"<h2>{escape(title)}</h2>{note}"
        f"<img src='{uri}' alt='{escape(title)}' style='max-width:100%'>"
    )
