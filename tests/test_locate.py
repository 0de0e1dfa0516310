"""locate() and the registry: prepared data is found, nothing is generated, missing data names its command."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from panet_min.data import DATASETS, episode_splits, locate, open_source
from panet_min.data.sources import prepare_command


def fake_camvid(root: Path) -> Path:
    for split in ("train", "val", "test"):
        (root / split).mkdir(parents=True)
        (root / f"{split}annot").mkdir()
        (root / f"{split}.txt").write_text("a\n")
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(root / f"{split}annot" / "a.png")
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(root / split / "a.png")
    return root


def test_a_prepared_dataset_is_found_under_the_root_or_as_the_root(tmp_path):
    fake_camvid(tmp_path / "data" / "camvid")
    for root in (tmp_path / "data", tmp_path / "data" / "camvid"):
        found = locate("camvid", root)
        assert found.dataset == "camvid" and found.root == tmp_path / "data" / "camvid"
        assert "CamVid" in found.description
        assert open_source(found.dataset, found.root, "test").ids == ["a"]


@pytest.mark.parametrize("name", DATASETS)
def test_missing_data_names_the_prepare_command_and_generates_nothing(tmp_path, name):
    with pytest.raises(ValueError) as err:
        locate(name, tmp_path)
    assert prepare_command(name, tmp_path) in str(err.value)
    assert list(tmp_path.iterdir()) == []  # nothing made as a side effect


def test_a_generated_set_is_never_taken_for_pascal(synthetic_voc_root):
    assert locate("synthetic", synthetic_voc_root).dataset == "synthetic"
    with pytest.raises(ValueError, match="panet_min.prepare pascal"):
        locate("pascal", synthetic_voc_root)


def test_unknown_dataset_lists_the_known_ones(tmp_path):
    with pytest.raises(ValueError, match="msrc, pascal, coco, camvid, synthetic"):
        locate("voc12", tmp_path)


def test_episode_splits_follow_the_original_unless_asked():
    assert episode_splits("pascal") == ("trainaug", "trainaug")  # test episodes from trainaug
    assert episode_splits("synthetic", "val") == ("trainaug", "val")
    assert episode_splits("coco") == ("train", "train")
    assert episode_splits("coco", "val") == ("train", "val")
    assert episode_splits("camvid") == ("train", "test")
    assert episode_splits("msrc") == ("all", "all")
    with pytest.raises(ValueError, match="no val split"):
        episode_splits("msrc", "val")
    with pytest.raises(ValueError, match="'original' or 'val'"):
        episode_splits("pascal", "test")
