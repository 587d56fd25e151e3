from __future__ import annotations

import importlib.resources
import xml.etree.ElementTree as ET

import pytest

from avel_annotate.domain.labelconfig import SEGMENT_VALUES, build_label_config, config_sha256


def _template() -> str:
    return (importlib.resources.files("avel_annotate.schema") / "label_config.xml").read_text()


def test_config_has_video_ten_boxes_and_categories():
    xml = build_label_config(_template(), ["dog barking", 'a "quoted" <name> & co', "cat"])
    root = ET.fromstring(xml)
    assert root.find("Video").get("name") == "video"
    seg = root.find("Choices[@name='segments']")
    assert seg.get("choice") == "multiple"
    assert [c.get("value") for c in seg] == list(SEGMENT_VALUES)
    assert SEGMENT_VALUES[0] == "0-1s" and SEGMENT_VALUES[-1] == "9-10s"
    cat = root.find("Choices[@name='category']")
    assert cat.get("choice") == "single"
    assert [c.get("value") for c in cat] == sorted(["dog barking", 'a "quoted" <name> & co', "cat"])


def test_config_is_deterministic():
    a = build_label_config(_template(), ["b", "a", "a"])
    assert a == build_label_config(_template(), ["a", "b"])
    assert config_sha256(a) == config_sha256(build_label_config(_template(), ["a", "b"]))


@pytest.mark.parametrize("bad", ["", "   ", "tab\there"])
def test_bad_names_rejected(bad):
    with pytest.raises(ValueError):
        build_label_config(_template(), [bad])


def test_template_needs_one_slot():
    with pytest.raises(ValueError, match="exactly once"):
        build_label_config("<View/>", ["a"])
