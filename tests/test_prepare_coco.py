"""panet_min.prepare.coco on tiny zips in COCO's format: class-wise lists by COCO-order index and the COCO-20i folds."""
import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from panet_min.data.folds import COCO_CLASSES, fold_classes
from panet_min.prepare import coco as pc

GAPS = {12, 26, 29, 30, 45, 66, 68, 69, 71, 83}
CAT_IDS = [i for i in range(1, 91) if i not in GAPS]  # COCO's 80 category ids


def instances(split, image_cats):
    images = [{"id": iid, "file_name": f"COCO_{split}2014_{iid:012d}.jpg", "height": 20, "width": 30}
              for iid in image_cats]
    anns, k = [], 1
    for iid, cats in image_cats.items():
        for cat in cats:
            anns.append({"id": k, "image_id": iid, "category_id": cat, "iscrowd": 0, "area": 36.0,
                         "bbox": [2, 2, 6, 6], "segmentation": [[2, 2, 8, 2, 8, 8, 2, 8]]})
            k += 1
    cats = [{"id": i, "name": name, "supercategory": "x"} for i, name in zip(CAT_IDS, COCO_CLASSES)]
    return {"images": images, "annotations": anns, "categories": cats}


TRAIN = {9: [1, 13], 25: [13], 30: [27, 27, 90], 42: [1]}   # 13 = stop sign (index 12), 27 = backpack (25)
VAL = {5: [90], 7: [1, 90]}


def build_zips(folder):
    folder.mkdir()
    ann = folder / "annotations_trainval2014.zip"
    with zipfile.ZipFile(ann, "w") as zf:
        zf.writestr("annotations/instances_train2014.json", json.dumps(instances("train", TRAIN)))
        zf.writestr("annotations/instances_val2014.json", json.dumps(instances("val", VAL)))
    urls = {"annotations": ann.as_uri()}
    for split, imgs in (("train", TRAIN), ("val", VAL)):
        z = folder / f"{split}2014.zip"
        with zipfile.ZipFile(z, "w") as zf:
            for iid in imgs:
                buf = io.BytesIO()
                Image.fromarray(np.full((20, 30, 3), iid, np.uint8)).save(buf, format="JPEG")
                zf.writestr(f"{split}2014/COCO_{split}2014_{iid:012d}.jpg", buf.getvalue())
        urls[f"{split}2014"] = z.as_uri()
    return urls


def test_prepare_coco_lists_and_folds(tmp_path):
    urls = build_zips(tmp_path / "src")
    logs = []
    root = pc.prepare(tmp_path / "coco", urls=urls, log=logs.append)
    assert (root / "train2014" / "COCO_train2014_000000000030.jpg").is_file()
    lists = root / "lists"

    def listed(split, c):
        return (lists / split / f"class{c}.txt").read_text().split()

    assert listed("train", 1) == ["9", "42"]          # person: category id 1 -> class 1
    assert listed("train", 12) == ["9", "25"]         # stop sign: id 13 -> class 12 (id 12 does not exist)
    assert listed("train", 25) == ["30"]              # backpack: id 27 -> class 25, listed once
    assert listed("train", 80) == ["30"] and listed("val", 80) == ["5", "7"]   # toothbrush: id 90
    assert listed("val", 1) == ["7"] and listed("train", 2) == []
    folds = json.loads((lists / "folds.json").read_text())["folds"]
    for f in range(4):
        assert folds[f]["test_classes"] == fold_classes("coco", f, train=False) == list(range(20 * f + 1, 20 * f + 21))
        assert folds[f]["test_names"] == list(COCO_CLASSES[20 * f:20 * f + 20])
    assert folds[0]["test_category_ids"][11] == 13 and folds[1]["test_category_ids"][4] == 27
    # the loader reads the same lists straight from pycocotools
    from panet_min.data.coco20i import COCOSource

    src = COCOSource(root, "train")
    for c in (1, 12, 25, 80):
        assert src.class_list(c) == listed("train", c)
    logs.clear()
    pc.prepare(tmp_path / "coco", urls=urls, log=logs.append)
    assert sum(x.startswith("[skip]") for x in logs) == 4


def test_corrupted_zip_is_refused(tmp_path):
    urls = build_zips(tmp_path / "src")
    z = tmp_path / "src" / "val2014.zip"
    data = bytearray(z.read_bytes())
    data[200] ^= 0xFF  # inside the first member's data (after its 67-byte header): its CRC-32 no longer matches
    z.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupted member val2014/COCO_val2014_000000000005.jpg"):
        pc.prepare(tmp_path / "coco", urls=urls, log=lambda *_: None)
    assert not (tmp_path / "coco" / "val2014").exists()
    assert not (tmp_path / "coco" / ".prepare_coco" / "extract_val2014.done").exists()


def test_source_folder_and_force(tmp_path):
    build_zips(tmp_path / "src")
    logs = []
    root = pc.prepare(tmp_path / "coco", source=tmp_path / "src", log=logs.append)
    assert (root / "downloads" / "train2014.zip").read_bytes() == (tmp_path / "src" / "train2014.zip").read_bytes()
    assert (root / "lists" / "val" / "class80.txt").read_text().split() == ["5", "7"]
    assert pc.summary(root) == (f"COCO 2014 ready in {root}: train2014 4 images, val2014 2 images; "
                                f"class lists and COCO-20i folds in {root / 'lists'}")
    logs.clear()
    pc.prepare(root, force=True, log=logs.append)
    assert logs == ["[run ] extract_annotations", "[run ] extract_train2014", "[run ] extract_val2014",
                    "[run ] lists"]
