"""Sources: VOC layout, CamVid, COCO on hand-made fixtures (pixels we control) and on the real shared data."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from panet_min.data import CamVidSource, COCOSource, VOCSource, fold_classes, open_source


def save_png(array, path, palette=True):
    im = Image.fromarray(np.asarray(array, dtype=np.uint8))
    if palette:
        im.putpalette([v for i in range(256) for v in (i, 255 - i, (7 * i) % 256)])
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)


def grey(label):
    """The grey level the fixture images have where the label is ``label``."""
    return np.where(label == 255, 250, label.astype(int) * 40).astype(np.uint8)


def write_voc(root: Path, labels: dict, split="trainaug", nested=True, class_lists=None) -> Path:
    """A VOC-layout folder: one image, label, instance map and scribble map per id."""
    base = root / "VOCdevkit" / "VOC2012" if nested else root
    for id_, label in labels.items():
        h, w = label.shape
        img = np.repeat(grey(label)[..., None], 3, axis=2)  # grey: no chroma subsampling
        save_png(label, base / "SegmentationClassAug" / f"{id_}.png")
        save_png((label > 0) & (label < 255), base / "SegmentationObjectAug" / f"{id_}.png")
        save_png(np.where(label == 0, 0, 255), base / "ScribbleAugAuto" / f"{id_}.png")
        (base / "JPEGImages").mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(base / "JPEGImages" / f"{id_}.jpg", quality=100, subsampling=0)
    sets = base / "ImageSets" / "Segmentation"
    sets.mkdir(parents=True, exist_ok=True)
    (sets / f"{split}.txt").write_text("".join(f"{i}\n" for i in labels))
    for c, ids in (class_lists or {}).items():
        (sets / split).mkdir(exist_ok=True)
        (sets / split / f"class{c}.txt").write_text("".join(f"{i}\n" for i in ids))
    return base


def labels_fixture():
    a = np.zeros((6, 8), np.uint8)
    a[1:3, 1:4] = 1
    a[3, 1:4] = 255
    a[4:6, 5:8] = 2
    b = np.zeros((5, 7), np.uint8)
    b[0:2, :] = 3
    b[2, :] = 255
    c = np.full((4, 4), 2, np.uint8)
    c[0, 0] = 1
    return {"a": a, "b": b, "c": c}


def reference_class_lists(labels: dict) -> dict:
    out = {}
    for id_, label in labels.items():
        for v in sorted(set(label.ravel().tolist())):
            if 1 <= v <= 20:
                out.setdefault(v, []).append(id_)
    return out


def test_voc_source_reads_the_stored_values(tmp_path):
    labels = labels_fixture()
    write_voc(tmp_path, labels)
    src = VOCSource(tmp_path, "trainaug")  # DIR/VOCdevkit/VOC2012 is found automatically
    assert src.root == tmp_path / "VOCdevkit" / "VOC2012" and src.ids == ["a", "b", "c"]
    for id_, label in labels.items():
        assert np.array_equal(src.label(id_), label)
        assert src.label(id_).dtype == np.uint8
        assert np.array_equal(src.ignore_mask(id_), label == 255)
        for c in (1, 2, 3):
            assert np.array_equal(src.class_mask(id_, c), label == c)
        image = src.image(id_)
        assert image.shape == label.shape + (3,) and image.dtype == np.uint8
        assert np.abs(image.astype(int) - grey(label)[..., None]).max() <= 3
        assert np.array_equal(src.instances(id_), ((label > 0) & (label < 255)).astype(np.uint8))
        assert np.array_equal(src.scribble(id_), np.where(label == 0, 0, 255))


def test_class_lists_are_computed_when_no_list_files(tmp_path):
    labels = labels_fixture()
    write_voc(tmp_path, labels)
    src = VOCSource(tmp_path, "trainaug")
    expected = reference_class_lists(labels)
    assert expected == {1: ["a", "c"], 2: ["a", "c"], 3: ["b"]}
    for c in range(1, 21):
        assert src.class_list(c) == expected.get(c, [])
    assert src.classes_in("a") == [1, 2]


def test_class_list_files_are_read_like_the_original(tmp_path):
    # ImageSets/Segmentation/{split}/class{c}.txt wins over the labels (here deliberately different)
    write_voc(tmp_path, labels_fixture(), class_lists={1: ["c"], 3: ["b", "a"]})
    src = VOCSource(tmp_path, "trainaug")
    assert src.class_list(1) == ["c"] and src.class_list(3) == ["b", "a"]
    assert src.class_list(2) == ["a", "c"]  # no file for class 2: computed
    with pytest.raises(ValueError, match="class 21 is not a pascal class"):
        src.class_list(21)


def test_flat_label_only_layout(tmp_path):
    # the layout of the shared voc2012-masks: SegmentationClassAug/ and {split}.txt side by side
    labels = labels_fixture()
    for id_, label in labels.items():
        save_png(label, tmp_path / "SegmentationClassAug" / f"{id_}.png")
    (tmp_path / "val.txt").write_text("a\nb\n")
    with pytest.raises(ValueError, match="JPEGImages"):
        VOCSource(tmp_path, "val")
    src = VOCSource(tmp_path, "val", labels_only=True)
    assert src.ids == ["a", "b"] and src.class_list(1) == ["a"]
    with pytest.raises(ValueError, match="labels_only=True"):
        src.image("a")


def test_missing_voc_folders_name_the_folder_and_the_command(tmp_path):
    with pytest.raises(ValueError, match=r"panet_min.prepare pascal --root") as err:
        VOCSource(tmp_path / "nowhere", "trainaug")
    assert "nowhere" in str(err.value)
    with pytest.raises(ValueError, match=r"panet_min.prepare synthetic --root") as err:
        open_source("synthetic", tmp_path, "trainaug")
    assert "SegmentationClassAug" in str(err.value)
    base = write_voc(tmp_path, labels_fixture())
    with pytest.raises(ValueError, match=r"split 'val'.*val\.txt.*panet_min.prepare pascal"):
        VOCSource(tmp_path, "val")
    for sub in ("ScribbleAugAuto", "SegmentationObjectAug"):
        for f in (base / sub).iterdir():
            f.unlink()
        (base / sub).rmdir()
    src = VOCSource(tmp_path, "trainaug")
    with pytest.raises(ValueError, match="ScribbleAugAuto.*panet_min.prepare pascal"):
        src.scribble("a")
    with pytest.raises(ValueError, match="SegmentationObjectAug"):
        src.instances("a")
    (base / "SegmentationClassAug" / "b.png").unlink()
    with pytest.raises(ValueError, match=r"label map not found: .*b\.png"):
        src.label("b")


def test_rgb_label_png_is_refused(tmp_path):
    base = write_voc(tmp_path, labels_fixture())
    Image.new("RGB", (8, 6)).save(base / "SegmentationClassAug" / "a.png")
    with pytest.raises(ValueError, match="mode RGB"):
        VOCSource(tmp_path, "trainaug").label("a")


# ---- CamVid ----

def write_camvid(root: Path, ext=".png"):
    raw = {"x1": np.array([[0, 1, 11], [10, 5, 3]], np.uint8),
           "x2": np.array([[4, 4, 4], [11, 11, 2]], np.uint8)}
    for split, ids in (("train", ["x1"]), ("val", ["x2"]), ("test", ["x1", "x2"])):
        (root / split).mkdir(parents=True)
        (root / f"{split}annot").mkdir()
        (root / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids))
        for i in ids:
            save_png(raw[i], root / f"{split}annot" / f"{i}.png", palette=False)
            Image.fromarray(np.full((2, 3, 3), 100, np.uint8)).save(root / split / f"{i}{ext}")
    return raw


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_camvid_labels_are_shifted_and_void_is_ignore(tmp_path, ext):
    raw = write_camvid(tmp_path / "camvid", ext)
    src = CamVidSource(tmp_path, "test")  # root/camvid is found
    assert src.ids == ["x1", "x2"]
    assert np.array_equal(src.label("x1"), [[1, 2, 255], [11, 6, 4]])
    assert np.array_equal(src.ignore_mask("x2"), raw["x2"] == 11)
    assert src.image("x1").shape == (2, 3, 3)
    assert src.class_list(1) == ["x1"] and src.class_list(5) == ["x2"] and src.class_list(9) == []
    both = CamVidSource(tmp_path / "camvid", "trainval")
    assert both.ids == ["x1", "x2"] and np.array_equal(both.label("x2"), [[5, 5, 5], [255, 255, 3]])


def test_camvid_missing_folder_names_it_and_the_command(tmp_path):
    write_camvid(tmp_path)
    for f in (tmp_path / "testannot").iterdir():
        f.unlink()
    (tmp_path / "testannot").rmdir()
    with pytest.raises(ValueError, match=r"testannot.*panet_min.prepare camvid --root"):
        CamVidSource(tmp_path, "test")


# ---- COCO ----

COCO_IDS = [i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]


def write_coco(root: Path):
    assert len(COCO_IDS) == 80
    (root / "annotations").mkdir(parents=True)
    (root / "val2014").mkdir()
    Image.fromarray(np.full((10, 12, 3), 50, np.uint8)).save(root / "val2014" / "a.jpg")
    Image.fromarray(np.full((10, 12), 80, np.uint8)).save(root / "val2014" / "b.jpg")  # grey

    def box(x0, y0, x1, y1):
        return [[x0, y0, x1, y0, x1, y1, x0, y1]]
    anns = [  # category 90 (toothbrush, global id 80) twice in image 7; 18 (dog, id 17) once
        {"id": 1, "image_id": 7, "category_id": 90, "segmentation": box(1, 1, 4, 4), "iscrowd": 0,
         "area": 9, "bbox": [1, 1, 3, 3]},
        {"id": 2, "image_id": 7, "category_id": 90, "segmentation": box(7, 5, 10, 8), "iscrowd": 0,
         "area": 9, "bbox": [7, 5, 3, 3]},
        {"id": 3, "image_id": 9, "category_id": 18, "segmentation": box(0, 0, 5, 5), "iscrowd": 0,
         "area": 25, "bbox": [0, 0, 5, 5]},
    ]
    data = {"images": [{"id": 7, "file_name": "a.jpg", "height": 10, "width": 12},
                       {"id": 9, "file_name": "b.jpg", "height": 10, "width": 12}],
            "annotations": anns,
            "categories": [{"id": i, "name": f"c{i}", "supercategory": "x"} for i in COCO_IDS]}
    (root / "annotations" / "instances_val2014.json").write_text(json.dumps(data))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools vs numpy 2
def test_coco_source_binary_masks_per_category(tmp_path):
    from pycocotools import mask as mask_utils
    write_coco(tmp_path)
    src = open_source("coco", tmp_path, "val")
    assert isinstance(src, COCOSource) and src.ids == ["7", "9"]
    assert src.class_list(80) == ["7"] and src.class_list(17) == ["9"] and src.class_list(1) == []
    expected = np.zeros((10, 12), bool)
    for poly in ([[1, 1, 4, 1, 4, 4, 1, 4]], [[7, 5, 10, 5, 10, 8, 7, 8]]):
        rle = mask_utils.merge(mask_utils.frPyObjects(poly, 10, 12))
        expected |= mask_utils.decode(rle).astype(bool)
    got = src.class_mask("7", 80)
    assert got.any() and np.array_equal(got, expected)
    assert not src.class_mask("7", 17).any()
    assert src.ignore_mask("7").shape == (10, 12) and not src.ignore_mask("7").any()
    assert src.image("9").shape == (10, 12, 3)  # grey converted to RGB
    # class-wise list files (the coco preparation's lists/{split}/class{c}.txt) win over the index
    (tmp_path / "lists" / "val").mkdir(parents=True)
    (tmp_path / "lists" / "val" / "class17.txt").write_text("7\n9\n")
    assert src.class_list(17) == ["7", "9"] and src.class_list(80) == ["7"]


def test_coco_missing_annotations_names_the_command(tmp_path):
    with pytest.raises(ValueError, match=r"instances_train2014\.json.*panet_min.prepare coco --root"):
        COCOSource(tmp_path, "train")


# ---- the real shared data ----

def test_real_voc_masks_fold_statistics(shared_data):
    src = VOCSource(shared_data / "voc2012-masks", "val", labels_only=True)
    assert len(src.ids) == 1449
    counts = []
    for fold in range(4):
        ids = set()
        for c in fold_classes("pascal", fold, train=False):
            ids |= set(src.class_list(c))
        counts.append(len(ids))
    assert counts == [433, 479, 647, 354]  # measured on these label maps (shared/data/README.md)
    # every listed image does contain its class (spot check against the raw PNG)
    for c in (1, 15):
        for id_ in src.class_list(c)[:5]:
            raw = np.array(Image.open(src.root / "SegmentationClassAug" / f"{id_}.png"))
            assert (raw == c).any()


def test_real_camvid_splits_labels_and_class_lists(shared_data):
    root = shared_data / "camvid"
    sizes = {s: len(CamVidSource(root, s).ids) for s in ("train", "val", "test", "trainval")}
    assert sizes == {"train": 367, "val": 101, "test": 233, "trainval": 468}
    src = CamVidSource(root, "test")
    ref = {c: [] for c in range(1, 12)}
    for id_ in src.ids:  # reference straight from the raw PNGs: stored L is class L + 1
        raw = np.array(Image.open(root / "testannot" / f"{id_}.png"))
        for v in np.unique(raw):
            if v <= 10:
                ref[int(v) + 1].append(id_)
    for c in range(1, 12):
        assert src.class_list(c) == ref[c]
    label, image = src.label(src.ids[0]), src.image(src.ids[0])
    assert set(np.unique(label).tolist()) <= set(range(1, 12)) | {255}
    assert image.shape == (360, 480, 3) and label.shape == (360, 480)


def test_one_writer_and_one_reader_of_label_pngs(tmp_path):
    # every label, instance and scribble PNG of the project is written by save_label_png and read
    # by read_label (the sources, the preparation scripts, the scribble robot, the generated set)
    from panet_min.data.classlists import read_label, save_label_png, voc_palette

    label = np.array([[0, 1, 2], [255, 20, 7]], np.uint8)
    save_label_png(label, tmp_path / "a.png")
    save_label_png(label, tmp_path / "b.png", palette=[v for i in range(256) for v in (255 - i, i, 0)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png"]  # no temporary file left
    for name, palette in (("a.png", voc_palette()), ("b.png", [v for i in range(256) for v in (255 - i, i, 0)])):
        with Image.open(tmp_path / name) as im:
            assert im.mode == "P" and im.getpalette()[:768] == palette
            assert np.array_equal(np.asarray(im), label)  # indices as written, read independently
        assert np.array_equal(read_label(tmp_path / name), label)
    Image.fromarray(label, "L").save(tmp_path / "grey.png")
    assert np.array_equal(read_label(tmp_path / "grey.png"), label)  # grey PNGs hold values
    with pytest.raises(ValueError, match=r"instance map not found: .*c\.png"):
        read_label(tmp_path / "c.png", "instance map")
    with pytest.raises(ValueError, match="must be uint8"):
        save_label_png(label.astype(np.int32), tmp_path / "d.png")
