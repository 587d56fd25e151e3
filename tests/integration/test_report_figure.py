"""`avel report --figure`: a plot made elsewhere (the loop benchmark's SVG) embedded in the page
as an image, so the page stays one file and runs no script; a bad figure is a one-line error."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from avel_annotate.cli.main import run
from avel_annotate.domain.line_chart import line_chart_svg


def _avel(data_dir: Path, *args: str) -> list[str]:
    return ["--data-dir", str(data_dir), "--no-progress", *args]


def test_svg_figure_is_embedded_as_an_image(tmp_path: Path):
    svg = tmp_path / "loop.svg"
    svg.write_text(line_chart_svg("loop", [("acc", {"random seed 0": [(10, 0.5), (20, 0.7)]})]))
    out = tmp_path / "r.html"
    assert run(_avel(tmp_path / "data", "report", "--out", str(out), "--figure", str(svg))) == 0
    page = out.read_text()
    assert "Figure: loop.svg" in page and "<script" not in page
    uris = re.findall(r"src='data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(uris) == 1 and base64.b64decode(uris[0]).decode() == svg.read_text()


@pytest.mark.parametrize(
    ("name", "message"), [("plot.pdf", "an .svg or .png"), ("gone.svg", "cannot read")]
)
def test_bad_figure_is_one_line_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture, name: str, message: str
):
    path = tmp_path / name
    if name.endswith(".pdf"):
        path.write_bytes(b"%PDF")
    assert run(_avel(tmp_path / "data", "report", "--figure", str(path))) == 1
    err = capsys.readouterr().err
    assert str(path) in err and message in err and "Traceback" not in err
    assert not (tmp_path / "data" / "report.html").exists()
