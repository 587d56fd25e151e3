"""Pure parts of training: the AVE release's class names come from the one clip-list parser
(domain.cliplist), the options check every choice before any work, and the label table of the
store's rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from avel_annotate.errors import ConfigError, FeatureError, ModelError
from avel_annotate.services.training import TrainOptions, ave_categories
from avel_annotate.services.training_data import feature_file_dataset, segment_label_ids
from avel_annotate.store.models import LabelledFeatures

HEADER = "Category&VideoID&Quality&StartTime&EndTime"


@pytest.mark.parametrize(
    ("lines", "n", "expected"),
    [
        ([HEADER, "Dog&aaaaaaaaaaa&good&0&10", "Cat&bbbbbbbbbbb&good&1&5"], 2, ["Dog", "Cat"]),
        (  # first appearance order, repeats ignored
            ["Cat&aaaaaaaaaaa&good&0&10", "Dog&bbbbbbbbbbb&good&0&3", "Cat&ccccccccccc&good&0&1"],
            2,
            ["Cat", "Dog"],
        ),
        ([HEADER, "Dog&aaaaaaaaaaa&good&0&10"], 2, ["class_0", "class_1"]),  # count differs
        (["\ufeff" + HEADER, "Dog&aaaaaaaaaaa&good&0&10"], 1, ["Dog"]),  # a BOM
        ([HEADER, "Dog&aaaaaaaaaaa&good&9&1", "Cat&bbbbbbbbbbb&good&0&1"], 1, ["Cat"]),  # bad row
    ],
)
def test_ave_categories(tmp_path: Path, lines: list[str], n: int, expected: list[str]) -> None:
    (tmp_path / "Annotations.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert ave_categories(tmp_path, n) == expected


def test_ave_categories_without_a_list(tmp_path: Path) -> None:
    assert ave_categories(tmp_path, 3) == ["class_0", "class_1", "class_2"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (TrainOptions(setting="semi"), "unknown setting 'semi'"),
        (TrainOptions(labels="gold"), "unknown label source 'gold'"),
        (TrainOptions(weak_loss="hinge"), "unknown weak loss 'hinge'"),
    ],
)
def test_options_are_checked(options: TrainOptions, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        options.check()


def test_train_config_keeps_the_recipe_unless_told() -> None:
    assert TrainOptions().train_config().psp_epochs == 45
    tc = TrainOptions(epochs=3, stage2_epochs=0, bf16=True).train_config()
    assert (tc.psp_epochs, tc.psa_s_epochs, tc.psa_v_epochs, tc.bf16) == (3, 0, 0, True)


@pytest.mark.parametrize(
    ("segments", "category", "expected"),
    [
        ("0000000000", None, [2] * 10),
        ("1100000001", 1, [1, 1, 2, 2, 2, 2, 2, 2, 2, 1]),
        ("0000000000", 0, [2] * 10),
    ],
)
def test_segment_label_ids(segments: str, category: int | None, expected: list[int]) -> None:
    assert segment_label_ids(segments, category, 2) == expected


def _item(clip: str, segments: str, category: str | None, random: bool = False):
    return LabelledFeatures(clip, f"f/{clip}.npz", random, segments, category, "list")


def test_feature_file_dataset_table(tmp_path: Path) -> None:
    items = [
        _item("a", "1" * 10, "Dog"),
        _item("b", "0" * 10, None),
        _item("c", "1" + "0" * 9, None),  # events, no category: skipped
        _item("d", "0" * 10, "Cat"),  # a category but no event: category -1
    ]
    data = feature_file_dataset(items, tmp_path, ["Cat", "Dog"])
    assert data.clip_ids == ["a", "b", "d"]
    assert data.paths == [tmp_path / "f/a.npz", tmp_path / "f/b.npz", tmp_path / "f/d.npz"]
    assert data.clip_category().tolist() == [1, -1, -1]
    assert data.labels()[0].tolist() == [1] * 10 and data.labels()[1].tolist() == [2] * 10
    with pytest.raises(FeatureError, match="random weights"):
        feature_file_dataset([_item("r", "0" * 10, None, True)], tmp_path, ["Cat"])
    assert len(feature_file_dataset([_item("r", "0" * 10, None, True)], tmp_path, ["Cat"],
                                    allow_random=True)) == 1  # fmt: skip
    with pytest.raises(ModelError, match="'Bird' is not one of the model's 2 categories"):
        feature_file_dataset([_item("x", "1" * 10, "Bird")], tmp_path, ["Cat", "Dog"])
