"""The SVG line chart: well-formed, escaped, one colour per group."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from avel_annotate.domain.line_chart import PALETTE, line_chart_svg

NS = "{http://www.w3.org/2000/svg}"


def _svg(panels, groups=()):
    return ET.fromstring(line_chart_svg("t <&>", panels, groups=groups))


def test_series_of_a_group_share_its_colour_and_points_are_drawn():
    root = _svg(
        [
            (
                "acc",
                {
                    "a seed 0": [(0, 0.5), (10, 0.7)],
                    "a seed 1": [(0, 0.4), (10, 0.8)],
                    "b seed 0": [(0, 0.3), (10, 0.9)],
                },
            ),
            ("cost", {"a seed 0": [(0, 1.0)]}),
        ],
        groups=["a", "b"],
    )
    lines = root.findall(f"{NS}polyline")
    assert len(lines) == 4
    colours = {ln.find(f"{NS}title").text: ln.get("stroke") for ln in lines}
    assert colours["a seed 0"] == colours["a seed 1"] == PALETTE[0]
    assert colours["b seed 0"] == PALETTE[1]
    assert len(root.findall(f"{NS}circle")) == 7
    # the lowest y value sits lowest in the panel (SVG y grows downwards)
    pts = [tuple(map(float, p.split(","))) for p in lines[2].get("points").split()]
    assert pts[0][1] > pts[1][1]


def test_text_from_data_is_escaped_and_empty_panels_say_so():
    text = line_chart_svg("<b>", [("x & y", {"<s>": []})])
    assert "<b>" not in text and "&lt;b&gt;" in text and "&lt;s&gt;" in text
    assert "no data" in text
    ET.fromstring(text)  # well-formed
