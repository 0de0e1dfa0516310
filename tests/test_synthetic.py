"""The generated VOC-format set: layout, label rules, class coverage, determinism, appearance."""
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from panet_min.data.classlists import voc_palette
from panet_min.data.synthetic import N_CLASSES, make_synthetic_voc, render_image


def voc_of(root: Path) -> Path:
    return root / "VOCdevkit" / "VOC2012"


def ids_of(voc: Path, split: str) -> list[str]:
    return (voc / "ImageSets" / "Segmentation" / f"{split}.txt").read_text().split()


def read_png(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        assert im.mode == "P", path
        assert im.getpalette()[:63] == voc_palette()[:63]
        return np.asarray(im)


def test_layout_and_splits(synthetic_voc_root):
    voc = voc_of(synthetic_voc_root)
    train, val = ids_of(voc, "train"), ids_of(voc, "val")
    assert len(train) == 120 and len(val) == 60
    assert ids_of(voc, "trainaug") == train
    assert ids_of(voc, "trainval") == train + val
    assert not set(train) & set(val)
    for i in train[:5] + val[:5]:
        with Image.open(voc / "JPEGImages" / f"{i}.jpg") as im:
            assert im.mode == "RGB" and im.size == (128, 128)
        for sub in ("SegmentationClassAug", "SegmentationObjectAug", "ScribbleAugAuto"):
            assert read_png(voc / sub / f"{i}.png").shape == (128, 128)


def test_labels_instances_and_borders(synthetic_voc_root):
    voc = voc_of(synthetic_voc_root)
    for i in ids_of(voc, "val"):
        lab = read_png(voc / "SegmentationClassAug" / f"{i}.png")
        inst = read_png(voc / "SegmentationObjectAug" / f"{i}.png")
        assert set(np.unique(lab)) <= set(range(N_CLASSES + 1)) | {255}
        assert (lab == 255).any(), "VOC-style 255 borders expected"
        np.testing.assert_array_equal(lab == 255, inst == 255)
        np.testing.assert_array_equal(lab == 0, inst == 0)
        ids = [v for v in np.unique(inst) if 0 < v < 255]
        assert ids == list(range(1, len(ids) + 1)), "instance ids are 1..m"
        for v in ids:  # an instance has one class
            assert len(np.unique(lab[inst == v])) == 1
        # two different labels never touch: a 255 band always separates them
        for a, b in ((lab[:, :-1], lab[:, 1:]), (lab[:-1], lab[1:])):
            touching = (a != b) & (a != 255) & (b != 255)
            assert not touching.any(), i


def test_class_lists_match_labels_and_cover_every_class(synthetic_voc_root):
    voc = voc_of(synthetic_voc_root)
    for split, n in (("train", 120), ("val", 60), ("trainaug", 120)):
        ids = ids_of(voc, split)
        present = {i: set(np.unique(read_png(voc / "SegmentationClassAug" / f"{i}.png"))) - {0, 255}
                   for i in ids}
        for c in range(1, N_CLASSES + 1):
            listed = (voc / "ImageSets" / "Segmentation" / split / f"class{c}.txt").read_text().split()
            assert listed == [i for i in ids if c in present[i]]
            assert len(listed) >= n // N_CLASSES, (split, c)
        n_classes_per_image = [len(p) for p in present.values()]
        assert min(n_classes_per_image) >= 1 and max(n_classes_per_image) == 2


def test_scribbles_follow_the_labels(synthetic_voc_root):
    voc = voc_of(synthetic_voc_root)
    pairs = with_scribble = 0
    for i in ids_of(voc, "val"):
        lab = read_png(voc / "SegmentationClassAug" / f"{i}.png")
        scr = read_png(voc / "ScribbleAugAuto" / f"{i}.png")
        obj = (scr != 0) & (scr != 255)
        np.testing.assert_array_equal(scr[obj], lab[obj])  # object scribble value = its class, inside it
        assert (lab[scr == 0] == 0).all() and (scr == 0).any()
        for c in set(np.unique(lab)) - {0, 255}:
            pairs += 1
            with_scribble += bool((scr == c).any())
    assert with_scribble >= 0.9 * pairs


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = (render_image(s, "val", 3, 96) for s in (0, 0, 1))
    for x, y in zip(a[:3], b[:3]):
        np.testing.assert_array_equal(x, y)
    assert a[2].shape == (96, 96) and not np.array_equal(a[0], c[0])
    assert not np.array_equal(render_image(0, "train", 3, 96)[0], a[0])


def test_output_does_not_depend_on_workers(tmp_path):
    one = make_synthetic_voc(tmp_path / "a", seed=5, n_train=3, n_val=2, size=64, workers=1)
    two = make_synthetic_voc(tmp_path / "b", seed=5, n_train=3, n_val=2, size=64, workers=2)
    files = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(two) for p in two.rglob("*") if p.is_file())
    for f in files:
        assert (one / f).read_bytes() == (two / f).read_bytes(), f


def test_rerun_is_a_no_op_and_other_parameters_are_refused(tmp_path):
    voc = make_synthetic_voc(tmp_path, seed=1, n_train=2, n_val=1, size=64, workers=1)
    marker = voc / "synthetic.json"
    stamp = os.stat(marker).st_mtime_ns
    assert make_synthetic_voc(tmp_path, seed=1, n_train=2, n_val=1, size=64) == voc
    assert os.stat(marker).st_mtime_ns == stamp
    with pytest.raises(ValueError, match="other parameters"):
        make_synthetic_voc(tmp_path, seed=2, n_train=2, n_val=1, size=64)
    with pytest.raises(ValueError, match="n_train"):
        make_synthetic_voc(tmp_path / "x", n_train=0)


def test_classes_differ_in_appearance(synthetic_voc_root):
    """A nearest-centroid classifier on colour statistics of the objects (fit on train, scored on
    val) must beat chance (5%) by far: the classes are told apart by how they look."""
    voc = voc_of(synthetic_voc_root)

    def features(split):
        xs, ys = [], []
        for i in ids_of(voc, split):
            img = np.asarray(Image.open(voc / "JPEGImages" / f"{i}.jpg"), dtype=float)
            lab = read_png(voc / "SegmentationClassAug" / f"{i}.png")
            for c in set(np.unique(lab)) - {0, 255}:
                px = img[lab == c]
                xs.append(np.r_[px.mean(0), px.std(0)])
                ys.append(c)
        return np.array(xs), np.array(ys)

    xt, yt = features("train")
    xv, yv = features("val")
    centroids = np.stack([xt[yt == c].mean(0) for c in range(1, N_CLASSES + 1)])
    pred = np.argmin((((xv[:, None] - centroids[None]) / xt.std(0)) ** 2).sum(-1), 1) + 1
    assert (pred == yv).mean() > 0.6


def test_a_generated_root_is_recorded_as_synthetic_never_as_pascal(synthetic_voc_root, tmp_path):
    """Asked for as "pascal", a generated root opens as "synthetic": the name results record, the
    source's dataset, its description and its missing-data errors. The marker file decides: the
    same layout without it is PASCAL, and "synthetic" then refuses it."""
    from panet_min.data import VOCSource
    from panet_min.runsetup import open_split

    source, description, name = open_split("pascal", synthetic_voc_root, "trainaug")
    assert name == "synthetic" and source.dataset == "synthetic"
    assert "not PASCAL" in description and "PASCAL VOC 2012" not in description
    assert json.loads((voc_of(synthetic_voc_root) / "synthetic.json").read_text())["seed"] == 0
    assert VOCSource(synthetic_voc_root, "val").dataset == "synthetic"  # even opened directly
    with pytest.raises(ValueError, match=r"split 'test'.*panet_min.prepare synthetic --root"):
        VOCSource(synthetic_voc_root, "test")  # the fix it names prepares a generated set

    voc = make_synthetic_voc(tmp_path, seed=0, n_train=2, n_val=1, size=64, workers=1)
    (voc / "synthetic.json").unlink()  # the same files, no marker: read as what it claims to be
    _, description, name = open_split("pascal", tmp_path, "trainaug")
    assert name == "pascal" and "PASCAL VOC 2012" in description
    with pytest.raises(ValueError, match="not prepared"):
        open_split("synthetic", tmp_path, "trainaug")
