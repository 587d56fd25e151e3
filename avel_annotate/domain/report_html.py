"""A self-contained HTML report: inline SVG charts, no scripts, no external files.

Pure functions from plain data to markup; every string that came from data is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1")
CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse}td,th{padding:2px 8px;border:1px solid #ddd;font-size:.85em}
.note{color:#666;font-size:.9em}
.warning{background:#fde2e1;border:2px solid #e15759;padding:.6em 1em;font-weight:bold}
svg text{font-size:11px;fill:#333}
"""


def bar_chart(
    title: str, series: Mapping[str, Mapping[str, float]], *, unit: str = "", width: int = 900
) -> str:
    """Horizontal grouped bars: ``series[group][label] = value``."""
    groups = list(series)
    labels = list(dict.fromkeys(k for g in groups for k in series[g]))
    if not labels:
        return f"<h2>{escape(title)}</h2><p class='note'>No data yet.</p>"
    peak = max((v for g in groups for v in series[g].values()), default=0) or 1
    row_h = 14 * max(1, len(groups)) + 6
    left, right = 220, 70
    height = row_h * len(labels) + 30
    scale = (width - left - right) / peak
    parts = [f"<svg width='{width}' height='{height}' role='img' aria-label='{escape(title)}'>"]
    for i, label in enumerate(labels):
        y0 = 10 + i * row_h
        parts.append(
            f"<text x='{left - 6}' y='{y0 + row_h / 2 + 4}' text-anchor='end'>"
            f"{escape(label[:34])}</text>"
        )
        for j, group in enumerate(groups):
            value = series[group].get(label, 0)
            y = y0 + j * 14
            w = max(value * scale, 0)
            color = PALETTE[j % len(PALETTE)]
            parts.append(
                f"<rect x='{left}' y='{y}' width='{w:.1f}' height='12' fill='{color}'>"
                f"<title>{escape(group)}: {value:g}{unit}</title></rect>"
            )
            parts.append(f"<text x='{left + w + 4:.1f}' y='{y + 10}'>{value:g}{unit}</text>")
    legend_y = height - 8
    for j, group in enumerate(groups if len(groups) > 1 else []):
        x = left + j * 120
        parts.append(
            f"<rect x='{x}' y='{legend_y - 9}' width='10' height='10' "
            f"fill='{PALETTE[j % len(PALETTE)]}'/>"
            f"<text x='{x + 14}' y='{legend_y}'>{escape(group)}</text>"
        )
    parts.append("</svg>")
    return f"<h2>{escape(title)}</h2>" + "".join(parts)


def confusion_matrix(title: str, names: Sequence[str], matrix: Sequence[Sequence[int]]) -> str:
    if not matrix:
        return f"<h2>{escape(title)}</h2><p class='note'>No evaluation yet.</p>"
    n = len(matrix)
    cell = max(8, min(28, 560 // max(n, 1)))
    left, top = 160, 20
    peak = max((max(row) for row in matrix), default=0) or 1
    parts = [f"<svg width='{left + max(n * cell, 300) + 20}' height='{top + n * cell + 40}'>"]
    for i, row in enumerate(matrix):
        label = names[i] if i < len(names) else str(i)
        parts.append(
            f"<text x='{left - 4}' y='{top + i * cell + cell * 0.7}' "
            f"text-anchor='end'>{escape(label[:24])}</text>"
        )
        for j, value in enumerate(row):
            shade = int(255 - 200 * value / peak)
            parts.append(
                f"<rect x='{left + j * cell}' y='{top + i * cell}' width='{cell}' "
                f"height='{cell}' fill='rgb({shade},{shade},255)' stroke='#eee'>"
                f"<title>true {escape(label)}, predicted "
                f"{escape(names[j] if j < len(names) else str(j))}: {value}</title>"
                "</rect>"
            )
    parts.append(
        f"<text x='{left}' y='{top + n * cell + 16}'>predicted class (columns); "
        "true class (rows)</text></svg>"
    )
    return f"<h2>{escape(title)}</h2>" + "".join(parts)


def timelines(title: str, clips: Sequence[Mapping[str, object]]) -> str:
    """Rows of ten cells per clip: the labels above the model's event probabilities."""
    if not clips:
        return f"<h2>{escape(title)}</h2><p class='note'>No clips with both labels yet.</p>"
    cell, left = 26, 240
    parts = [f"<svg width='{left + 10 * cell + 260}' height='{len(clips) * 48 + 20}'>"]
    for i, clip in enumerate(clips):
        y = 10 + i * 48
        parts.append(
            f"<text x='{left - 6}' y='{y + 12}' text-anchor='end'>"
            f"{escape(str(clip['clip_id']))}</text>"
            f"<text x='{left - 6}' y='{y + 32}' text-anchor='end' fill='#777'>"
            f"{escape(str(clip.get('category') or ''))[:30]}</text>"
        )
        curated = str(clip["curated"])
        source = escape(str(clip.get("source", "labels")))
        probs = list(clip["probs"])  # type: ignore[call-overload]
        for t in range(10):
            on = curated[t] == "1"
            parts.append(
                f"<rect x='{left + t * cell}' y='{y}' width='{cell - 2}' height='16' "
                f"fill='{'#59a14f' if on else '#eee'}'><title>second {t}: "
                f"{'event' if on else 'background'} ({source})</title></rect>"
            )
            p = float(probs[t])
            shade = int(255 - 200 * p)
            parts.append(
                f"<rect x='{left + t * cell}' y='{y + 20}' width='{cell - 2}' "
                f"height='16' fill='rgb(255,{shade},{shade})'><title>second {t}: "
                f"P(event) = {p:.2f}</title></rect>"
            )
        parts.append(
            f"<text x='{left + 10 * cell + 8}' y='{y + 12}'>{source}</text>"
            f"<text x='{left + 10 * cell + 8}' y='{y + 32}'>model "
            f"{escape(str(clip['model']))}</text>"
        )
    parts.append("</svg>")
    return f"<h2>{escape(title)}</h2>" + "".join(parts)


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape('-' if v is None else str(v))}</td>" for v in row) + "</tr>"
        for row in rows
    )
    return f"<h2>{escape(title)}</h2><table><tr>{head}</tr>{body}</table>"


def warning(text: str) -> str:
    return f"<p class='warning' role='alert'>Warning: {escape(text)}</p>"


def page(title: str, subtitle: str, sections: Sequence[str]) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{escape(title)}</h1><p class='note'>{escape(subtitle)}</p>"
        + "".join(sections)
        + "</body></html>\n"
    )
