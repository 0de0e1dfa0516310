"""MSRC-v2: legend decoding, the prepared source, MSRC-5i folds, the strict protocol, and preparation
that verifies every file against the shipped manifest."""
import hashlib
import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from conftest import msrc_original_zip
from panet_min.data import EpisodeDataset, MSRC_CLASSES, fold_classes, locate, open_source
from panet_min.data.msrc import MSRC_COLOURS, decode_ground_truth
from panet_min.prepare import msrc as prep


def test_decoding_maps_each_legend_colour_to_its_id_and_black_to_void():
    rgb = np.array([list(MSRC_COLOURS) + [(0, 0, 0)]], dtype=np.uint8)  # [1, 24, 3]
    assert decode_ground_truth(rgb).tolist() == [list(range(1, 24)) + [255]]
    with pytest.raises(ValueError, match=r"colour \(1, 2, 3\) is not in the MSRC-v2 legend"):
        decode_ground_truth(np.array([[[1, 2, 3]]], dtype=np.uint8))


def test_msrc5i_folds_split_the_15_objects_and_never_use_stuff_horse_or_mountain():
    objects = set()
    for fold in range(3):
        test, train = fold_classes("msrc", fold, False), fold_classes("msrc", fold, True)
        assert len(test) == 5 and len(train) == 10 and not set(test) & set(train)
        objects |= set(test)
        stuff = fold_classes("msrc", fold, True, stuff_as_training=True)
        assert [MSRC_CLASSES[c - 1] for c in sorted(set(stuff) - set(train))] == \
            ["building", "grass", "tree", "sky", "water"]
    names = {MSRC_CLASSES[c - 1] for c in objects}
    assert len(objects) == 15 and not names & {"horse", "mountain", "road", "sky", "grass"}
    assert {"face", "body"} <= {MSRC_CLASSES[c - 1] for c in fold_classes("msrc", 2, False)}
    with pytest.raises(ValueError, match="msrc only"):
        fold_classes("pascal", 0, True, stuff_as_training=True)


def test_the_prepared_source_reads_real_images_and_labels(msrc_root):
    src = open_source("msrc", locate("msrc", msrc_root).root, "all")
    assert len(src) == 591
    counts = {MSRC_CLASSES[c - 1]: len(src.class_list(c)) for c in range(1, 24)}
    # the image counts of the dataset's documentation
    assert counts["horse"] == 3 and counts["grass"] == 213 and counts["body"] == 68 and counts["cat"] == 24
    image, label = src.image(src.ids[0]), src.label(src.ids[0])
    assert image.dtype == np.uint8 and image.shape[2] == 3 and label.shape == image.shape[:2]
    assert set(np.unique(label).tolist()) <= set(range(1, 24)) | {255}


def test_the_strict_protocol_drops_every_image_with_a_test_class(msrc_root):
    src = open_source("msrc", locate("msrc", msrc_root).root, "all")
    test = fold_classes("msrc", 0, False)
    with_train_objects = {i for c in fold_classes("msrc", 0, True) for i in src.class_list(c)}
    src.drop_images_with(test)
    assert all(src.class_list(c) == [] for c in test)
    kept = {i for c in fold_classes("msrc", 0, True) for i in src.class_list(c)}
    # the figures measured for fold 0: 332 images with a training object, 322 without a test class
    assert (len(with_train_objects), len(kept)) == (332, 322)
    ds = EpisodeDataset(src, fold_classes("msrc", 0, True), n_episodes=50, image_size=65, train=True)
    test_images = {i for c in test for i in open_source("msrc", src.root, "all").class_list(c)}
    for i in range(50):
        drawn = ds.sample_ids(i)
        used = {x for ids in drawn["support_ids"] for x in ids} | set(drawn["query_ids"])
        assert used and not used & test_images


def _small_copy(tmp_path, members, alter=None):
    """A zip holding the given members of the real MSRC zip (one altered when asked)."""
    real = msrc_original_zip()
    if real is None:
        pytest.fail("no copy of the MSRC-v2 zip on this machine; run `make data`")
    out = tmp_path / "copy.zip"
    with zipfile.ZipFile(real) as zin, zipfile.ZipFile(out, "w") as zout:
        for rel in members:
            data = zin.read(f"{prep.ORIGINAL}/{rel}")
            if rel == alter:
                data = data[:-1] + bytes([data[-1] ^ 1])
            zout.writestr(f"{prep.ORIGINAL}/{rel}", data)
    return out


@pytest.fixture
def three_images(monkeypatch):
    files = dict(sorted(prep.used_files().items()))
    picked = {p: d for p, d in files.items() if p.split("/")[1].split("_GT")[0].split(".")[0] in
              ("1_1_s", "2_1_s", "3_1_s")}
    assert len(picked) == 6
    monkeypatch.setattr(prep, "used_files", lambda: picked)
    return picked


def test_prepare_verifies_and_converts_a_local_zip(tmp_path, three_images):
    out = prep.prepare(tmp_path / "data", source=_small_copy(tmp_path, three_images), log=lambda *a: None)
    assert (out / "all.txt").read_text().split() == ["1_1_s", "2_1_s", "3_1_s"]
    assert prep.is_prepared(tmp_path / "data")
    src = open_source("msrc", out, "all")
    with zipfile.ZipFile(msrc_original_zip()) as z:
        gt = np.asarray(Image.open(io.BytesIO(z.read(f"{prep.ORIGINAL}/GroundTruth/2_1_s_GT.bmp"))).convert("RGB"))
        photo = z.read(f"{prep.ORIGINAL}/Images/2_1_s.bmp")
    assert np.array_equal(src.label("2_1_s"), decode_ground_truth(gt))
    assert hashlib.sha256((out / "Images" / "2_1_s.bmp").read_bytes()).digest() == hashlib.sha256(photo).digest()
    # prepared before: returns at once, even from a source that no longer exists
    assert prep.prepare(tmp_path / "data", source=tmp_path / "gone", log=lambda *a: None) == out


def test_an_altered_or_missing_file_is_refused_and_nothing_is_left(tmp_path, three_images):
    altered = _small_copy(tmp_path, three_images, alter="GroundTruth/2_1_s_GT.bmp")
    with pytest.raises(ValueError, match=r"GroundTruth/2_1_s_GT.bmp .* has sha256 .* expected"):
        prep.prepare(tmp_path / "data", source=altered, log=lambda *a: None)
    (tmp_path / "b").mkdir()
    incomplete = _small_copy(tmp_path / "b", [p for p in three_images if p != "Images/3_1_s.bmp"])
    with pytest.raises(ValueError, match="Images/3_1_s.bmp is missing"):
        prep.prepare(tmp_path / "data", source=incomplete, log=lambda *a: None)
    assert not (tmp_path / "data" / "msrc").exists() and not (tmp_path / "data" / "msrc.partial").exists()


def test_the_download_path_reads_the_official_url_through_the_mirror(tmp_path, three_images, monkeypatch):
    from urllib.parse import urlsplit

    url = urlsplit(prep.URL)
    mirror = tmp_path / "mirror"
    (mirror / url.netloc / url.path.lstrip("/")).parent.mkdir(parents=True)
    _small_copy(tmp_path, three_images).rename(mirror / url.netloc / url.path.lstrip("/"))
    monkeypatch.setenv("PANET_MIN_MIRROR", str(mirror))
    out = prep.prepare(tmp_path / "data", log=lambda *a: None)
    assert (out / "all.txt").read_text().split() == ["1_1_s", "2_1_s", "3_1_s"]
    assert (tmp_path / "data" / "downloads" / prep.ZIP_NAME).is_file()
