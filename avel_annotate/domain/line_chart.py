"""Line charts as standalone SVG (the loop benchmark's plot, shown by ``avel report``). Pure;
every string that came from data is escaped.

``panels`` is a list of ``(title, series)``; ``series[name]`` a list of ``(x, y)`` points. A
series belongs to the group whose name, then a space, its name starts with (one colour per group, so
several seeds of one arm share a colour); ungrouped series take the colours in turn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1")
Points = Sequence[tuple[float, float]]


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    step = (hi - lo) / (n - 1)
    return [lo + i * step for i in range(n)]


def _fmt(v: float) -> str:
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.2f}".rstrip("0").rstrip(".")


def _panel(
    title: str,
    series: Mapping[str, Points],
    colour_of: Mapping[str, str],
    x0: float,
    y0: float,
    w: float,
    h: float,
) -> list[str]:
    pts = [p for s in series.values() for p in s]
    out = [f"<text x='{x0}' y='{y0 - 8}' font-weight='bold'>{escape(title)}</text>"]
    out.append(f"<rect x='{x0}' y='{y0}' width='{w}' height='{h}' fill='none' stroke='#bbb'/>")
    if not pts:
        out.append(f"<text x='{x0 + 10}' y='{y0 + h / 2}'>no data</text>")
        return out
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    xlo, xhi = min(xs), max(xs)
    ylo, yhi = min(ys), max(ys)
    if yhi - ylo < 1e-9:
        ylo, yhi = ylo - 0.5, yhi + 0.5
    xspan = (xhi - xlo) or 1.0

    def sx(v: float) -> float:
        return x0 + (v - xlo) / xspan * w

    def sy(v: float) -> float:
        return y0 + h - (v - ylo) / (yhi - ylo) * h

    for t in _ticks(ylo, yhi):
        out.append(
            f"<line x1='{x0}' x2='{x0 + w}' y1='{sy(t):.1f}' y2='{sy(t):.1f}' stroke='#eee'/>"
            f"<text x='{x0 - 4}' y='{sy(t) + 4:.1f}' text-anchor='end'>{_fmt(t)}</text>"
        )
    for t in _ticks(xlo, xhi):
        out.append(f"<text x='{sx(t):.1f}' y='{y0 + h + 14}' text-anchor='middle'>{_fmt(t)}</text>")
    for name, s in series.items():
        if not s:
            continue
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in s)
        colour = colour_of[name]
        out.append(
            f"<polyline points='{path}' fill='none' stroke='{colour}' stroke-width='1.5' "
            f"stroke-opacity='0.8'><title>{escape(name)}</title></polyline>"
        )
        for x, y in s:
            out.append(
                f"<circle cx='{sx(x):.1f}' cy='{sy(y):.1f}' r='2' fill='{colour}'>"
                f"<title>{escape(name)}: ({_fmt(x)}, {y:.4g})</title></circle>"
            )
    return out


def line_chart_svg(
    title: str,
    panels: Sequence[tuple[str, Mapping[str, Points]]],
    *,
    groups: Sequence[str] = (),
    columns: int = 2,
    panel_w: int = 420,
    panel_h: int = 220,
) -> str:
    """A standalone ``<svg>`` document: a grid of line-chart panels with one shared legend."""
    names = list(dict.fromkeys(n for _t, s in panels for n in s))
    colour_of: dict[str, str] = {}
    free = 0
    for n in names:
        g = next((i for i, grp in enumerate(groups) if n == grp or n.startswith(grp + " ")), None)
        if g is None:
            g, free = len(groups) + free, free + 1
        colour_of[n] = PALETTE[g % len(PALETTE)]
    left, top, gap_x, gap_y = 60, 50, 80, 70
    rows = (len(panels) + columns - 1) // columns
    width = left + columns * (panel_w + gap_x)
    height = top + rows * (panel_h + gap_y) + 30
    parts = [
        "<svg xmlns='http://www.w3.org/2000/svg' "
        f"width='{width}' height='{height}' font-family='sans-serif' font-size='11' "
        f"role='img' aria-label='{escape(title)}'>",
        f"<text x='{left}' y='20' font-size='14' font-weight='bold'>{escape(title)}</text>",
    ]
    for i, (ptitle, series) in enumerate(panels):
        r, c = divmod(i, columns)
        x0 = left + c * (panel_w + gap_x)
        y0 = top + r * (panel_h + gap_y)
        parts += _panel(ptitle, series, colour_of, x0, y0, panel_w, panel_h)
    legend = list(groups) if groups else names
    y = height - 12
    x = left
    for j, name in enumerate(legend):
        if j:
            x += max(150, 7 * len(legend[j - 1]) + 30)
        colour = colour_of.get(name) or PALETTE[j % len(PALETTE)]
        parts.append(
            f"<rect x='{x}' y='{y - 9}' width='10' height='10' fill='{colour}'/>"
            f"<text x='{x + 14}' y='{y}'>{escape(name)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts) + "\n"
