"""locate(): which data a run uses, found in the right order, and clear errors when there is none."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import panet_min.data.synthetic as synthetic
from panet_min.data import locate, open_source, shared_data_dir
from panet_min.data.locate import default_splits


def fake_camvid(root: Path) -> Path:
    for split in ("train", "val", "test"):
        (root / split).mkdir(parents=True)
        (root / f"{split}annot").mkdir()
        (root / f"{split}.txt").write_text("a\n")
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(root / f"{split}annot" / "a.png")
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(root / split / "a.png")
    return root


def test_shared_data_dir_follows_the_env_var(tmp_path, monkeypatch):
    monkeypatch.setenv("PANET_MIN_SHARED_DATA", str(tmp_path))
    assert shared_data_dir() == tmp_path
    monkeypatch.setenv("PANET_MIN_SHARED_DATA", str(tmp_path / "absent"))
    assert shared_data_dir() is None


def test_local_camvid_wins_over_the_shared_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("PANET_MIN_SHARED_DATA", str(tmp_path / "shared"))
    fake_camvid(tmp_path / "shared" / "camvid")
    found = locate("auto", tmp_path / "data")
    assert found.dataset == "camvid" and found.root == tmp_path / "shared" / "camvid"
    assert "shared" in found.description and "CamVid" in found.description
    fake_camvid(tmp_path / "data" / "camvid")
    found = locate("camvid", tmp_path / "data")
    assert found.root == tmp_path / "data" / "camvid" and "prepared at" in found.description
    assert open_source(found.dataset, found.root, "test").ids == ["a"]


def test_auto_falls_back_to_generating_the_synthetic_set(tmp_path, monkeypatch):
    monkeypatch.setenv("PANET_MIN_SHARED_DATA", str(tmp_path / "absent"))
    calls = []

    def fake_make(root, seed=0, **kw):  # record the call instead of rendering 1300 images
        calls.append((Path(root), seed))
        voc = Path(root) / "VOCdevkit" / "VOC2012"
        voc.mkdir(parents=True)
        (voc / "synthetic.json").write_text("{}")
        return voc

    monkeypatch.setattr(synthetic, "make_synthetic_voc", fake_make)
    found = locate("auto", tmp_path / "data")
    assert calls == [(tmp_path / "data" / "synthetic", 0)]
    assert found.dataset == "synthetic" and "not PASCAL" in found.description
    assert found.root == tmp_path / "data" / "synthetic" / "VOCdevkit" / "VOC2012"
    again = locate("auto", tmp_path / "data")  # already there: no second generation
    assert len(calls) == 1 and again.root == found.root
    with pytest.raises(ValueError, match=r"CamVid not found.*prepare_camvid\.py --root"):
        locate("camvid", tmp_path / "data")


def test_missing_real_datasets_name_the_prepare_command(tmp_path):
    with pytest.raises(ValueError, match=r"pascal.*prepare_pascal\.py --root"):
        locate("pascal", tmp_path)
    with pytest.raises(ValueError, match=r"coco.*prepare_coco\.py --root"):
        locate("coco", tmp_path)
    with pytest.raises(ValueError, match="unknown dataset 'voc12'"):
        locate("voc12", tmp_path)


def test_prepared_pascal_is_found(tmp_path):
    voc = tmp_path / "pascal" / "VOCdevkit" / "VOC2012"
    for sub in ("JPEGImages", "SegmentationClassAug", "ImageSets/Segmentation"):
        (voc / sub).mkdir(parents=True)
    (voc / "ImageSets" / "Segmentation" / "trainaug.txt").write_text("x\n")
    found = locate("pascal", tmp_path)
    assert found.dataset == "pascal" and found.root == voc


def test_default_splits_follow_the_original_unless_asked():
    assert default_splits("pascal") == ("trainaug", "trainaug")  # test episodes from trainaug
    assert default_splits("synthetic", "val") == ("trainaug", "val")
    assert default_splits("coco") == ("train", "train")
    assert default_splits("camvid") == ("train", "test")
    with pytest.raises(ValueError, match="test_split"):
        default_splits("pascal", "test")


def test_real_shared_camvid_is_found_by_auto(tmp_path, shared_data, monkeypatch):
    monkeypatch.setenv("PANET_MIN_SHARED_DATA", str(shared_data))
    found = locate("auto", tmp_path)
    assert found.dataset == "camvid" and found.root == shared_data / "camvid"
    assert len(open_source(found.dataset, found.root, "test").ids) == 233
