"""panet_min.prepare.pascal end to end on tiny archives in the real formats (VOC tar, SBD tgz with .mat files):
pixel-exact outputs, split and class lists, resumability, corrupted archives, malicious members."""
import hashlib
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from panet_min.data.classlists import voc_palette
from panet_min.prepare import pascal as pp

VOC_TRAIN, VOC_VAL = ["2007_000001"], ["2007_000002"]
SBD_TRAIN, SBD_VAL = ["2008_000003", "2007_000002"], ["2008_000004", "2007_000001"]
ALL = ["2007_000001", "2007_000002", "2008_000003", "2008_000004"]


def make_labels():
    """Known label and instance maps: VOC's (with 255 borders) and SBD's (without)."""
    rng = np.random.default_rng(0)
    out = {}
    for k, i in enumerate(ALL):
        lab = np.zeros((24, 32), np.uint8)
        lab[4:14, 3:15] = 1 + 3 * k            # classes 1, 4, 7, 10
        lab[12:22, 18:30] = 15                 # person in every image
        inst = (lab > 0).astype(np.uint8) + (lab == 15)
        out[("sbd", i)] = (lab.copy(), inst.copy())
        border = np.zeros_like(lab, bool)
        border[3:15, 2:16] = True
        border[4:14, 3:15] = False
        lab_voc, inst_voc = lab.copy(), inst.copy()
        lab_voc[border], inst_voc[border] = 255, 255
        lab_voc[0, 0] = rng.integers(16, 21)   # a VOC label that SBD does not have: shows who won
        out[("voc", i)] = (lab_voc, inst_voc)
    return out


def png_bytes(a, palette=True):
    im = Image.fromarray(a)
    if palette:
        im.putpalette(voc_palette())
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def add(tf, name, data: bytes):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tf.addfile(info, io.BytesIO(data))


def build_archives(folder: Path, labels, evil=False):
    folder.mkdir(parents=True, exist_ok=True)
    voc_tar = folder / "VOCtrainval_11-May-2012.tar"
    with tarfile.open(voc_tar, "w") as tf:
        base = "VOCdevkit/VOC2012/"
        for i in ALL:
            buf = io.BytesIO()
            Image.fromarray(np.full((24, 32, 3), 100, np.uint8)).save(buf, format="JPEG")
            add(tf, base + f"JPEGImages/{i}.jpg", buf.getvalue())
        for i in VOC_TRAIN + VOC_VAL:
            lab, inst = labels[("voc", i)]
            add(tf, base + f"SegmentationClass/{i}.png", png_bytes(lab))
            add(tf, base + f"SegmentationObject/{i}.png", png_bytes(inst))
        seg = base + "ImageSets/Segmentation/"
        add(tf, seg + "train.txt", "".join(f"{i}\n" for i in VOC_TRAIN).encode())
        add(tf, seg + "val.txt", "".join(f"{i}\n" for i in VOC_VAL).encode())
        add(tf, seg + "trainval.txt", "".join(f"{i}\n" for i in VOC_TRAIN + VOC_VAL).encode())
        if evil:
            add(tf, "../evil.txt", b"escaped")
    sbd_tgz = folder / "benchmark.tgz"
    with tarfile.open(sbd_tgz, "w:gz") as tf:
        base = "benchmark_RELEASE/dataset/"
        for i in ALL:
            lab, inst = labels[("sbd", i)]
            for key, sub, arr in (("GTcls", "cls", lab), ("GTinst", "inst", inst)):
                buf = io.BytesIO()
                savemat(buf, {key: {"Segmentation": arr, "CategoriesPresent": np.unique(arr[arr > 0])}})
                add(tf, base + f"{sub}/{i}.mat", buf.getvalue())
        add(tf, base + "train.txt", "".join(f"{i}\n" for i in SBD_TRAIN).encode())
        add(tf, base + "val.txt", "".join(f"{i}\n" for i in SBD_VAL).encode())
    return voc_tar, sbd_tgz


def md5(path):
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def urls(voc_tar, sbd_tgz, **kw):
    return dict(voc_url=voc_tar.as_uri(), voc_md5=md5(voc_tar), sbd_url=sbd_tgz.as_uri(),
                sbd_md5=md5(sbd_tgz), workers=1, progress=False, **kw)


def read_png(path):
    with Image.open(path) as im:
        assert im.mode == "P"
        return np.asarray(im)


def test_end_to_end_pixel_exact_and_rerun_skips(tmp_path):
    labels = make_labels()
    voc_tar, sbd_tgz = build_archives(tmp_path / "src", labels)
    logs = []
    voc = pp.prepare(tmp_path / "pascal", log=logs.append, **urls(voc_tar, sbd_tgz))
    assert voc == (tmp_path / "pascal" / "VOCdevkit" / "VOC2012").resolve()
    for i in ALL:  # VOC's annotation wins where it exists, else SBD's .mat
        who = "voc" if i in VOC_TRAIN + VOC_VAL else "sbd"
        np.testing.assert_array_equal(read_png(voc / "SegmentationClassAug" / f"{i}.png"), labels[(who, i)][0])
        np.testing.assert_array_equal(read_png(voc / "SegmentationObjectAug" / f"{i}.png"), labels[(who, i)][1])
        scr = read_png(voc / "ScribbleAugAuto" / f"{i}.png")
        lab = labels[(who, i)][0]
        obj = (scr != 0) & (scr != 255)
        assert obj.any() and (scr[obj] == lab[obj]).all() and (lab[scr == 0] == 0).all()
    sets = voc / "ImageSets" / "Segmentation"
    assert (sets / "trainaug.txt").read_text().split() == ["2007_000001", "2008_000003", "2008_000004"]
    assert (sets / "val.txt").read_text().split() == VOC_VAL
    for split, ids in (("trainaug", ["2007_000001", "2008_000003", "2008_000004"]), ("val", VOC_VAL)):
        for c in range(1, 21):
            expected = [i for i in ids if (labels[("voc" if i in VOC_TRAIN + VOC_VAL else "sbd", i)][0] == c).any()]
            assert (sets / split / f"class{c}.txt").read_text().split() == expected, (split, c)
    assert (sets / "trainaug" / "class15.txt").read_text().split() == ["2007_000001", "2008_000003", "2008_000004"]
    assert not list((tmp_path / "pascal").rglob("*.partial")) and not list((tmp_path / "pascal").rglob("*.part"))
    # re-running skips every step and rewrites nothing (the archives are no longer needed)
    stamp = (voc / "SegmentationClassAug" / "2008_000003.png").stat().st_mtime_ns
    for f in (tmp_path / "pascal" / "downloads").iterdir():
        f.unlink()
    logs.clear()
    pp.prepare(tmp_path / "pascal", log=logs.append, **urls(voc_tar, sbd_tgz))
    assert sum(line.startswith("[skip]") for line in logs) == 6 and not any("[run" in x for x in logs)
    assert (voc / "SegmentationClassAug" / "2008_000003.png").stat().st_mtime_ns == stamp


def test_interrupted_download_resumes_and_is_verified(tmp_path):
    voc_tar, sbd_tgz = build_archives(tmp_path / "src", make_labels())
    served = {voc_tar.as_uri(): voc_tar.read_bytes(), sbd_tgz.as_uri(): sbd_tgz.read_bytes()}
    calls = []

    def fetch(url, part, offset):
        calls.append((Path(url).name, offset))
        with open(part, "ab" if offset else "wb") as f:
            f.write(served[url][offset:])

    downloads = tmp_path / "pascal" / "downloads"
    downloads.mkdir(parents=True)
    half = len(served[voc_tar.as_uri()]) // 2
    (downloads / (voc_tar.name + ".part")).write_bytes(served[voc_tar.as_uri()][:half])  # interrupted
    (downloads / (sbd_tgz.name + ".part")).write_bytes(b"garbage from a broken earlier run")
    pp.prepare(tmp_path / "pascal", fetch=fetch, scribbles=False, **urls(voc_tar, sbd_tgz))
    # the VOC tar resumed from the middle; the damaged SBD .part failed its check and was refetched from 0
    assert calls == [(voc_tar.name, half), (sbd_tgz.name, 33), (sbd_tgz.name, 0)]
    assert md5(downloads / voc_tar.name) == md5(voc_tar)


def test_failed_download_is_not_taken_as_finished(tmp_path):
    voc_tar, sbd_tgz = build_archives(tmp_path / "src", make_labels())

    def broken(url, part, offset):
        with open(part, "ab") as f:
            f.write(b"partial bytes")
        raise ConnectionError("network went away")

    with pytest.raises(ConnectionError):
        pp.prepare(tmp_path / "pascal", fetch=broken, **urls(voc_tar, sbd_tgz))
    assert not (tmp_path / "pascal" / "downloads" / voc_tar.name).exists()
    assert (tmp_path / "pascal" / "downloads" / (voc_tar.name + ".part")).exists()
    assert not (tmp_path / "pascal" / "VOCdevkit").exists()
    # the next run resumes and verifies: the partial bytes do not match, so it starts over
    pp.prepare(tmp_path / "pascal", scribbles=False, **urls(voc_tar, sbd_tgz))
    assert md5(tmp_path / "pascal" / "downloads" / voc_tar.name) == md5(voc_tar)


def test_corrupted_download_fails_checksum_and_leaves_nothing(tmp_path):
    voc_tar, sbd_tgz = build_archives(tmp_path / "src", make_labels())
    args = urls(voc_tar, sbd_tgz)
    data = bytearray(voc_tar.read_bytes())
    data[len(data) // 3] ^= 0xFF
    voc_tar.write_bytes(bytes(data))  # the served file no longer matches the published md5
    with pytest.raises(ValueError, match="checksum mismatch for VOCtrainval_11-May-2012.tar"):
        pp.prepare(tmp_path / "pascal", **args)
    assert [p.name for p in (tmp_path / "pascal").rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("which", ["voc", "sbd"])
def test_truncated_archive_gives_clear_error_and_no_valid_looking_output(tmp_path, which):
    voc_tar, sbd_tgz = build_archives(tmp_path / "src", make_labels())
    target = voc_tar if which == "voc" else sbd_tgz
    target.write_bytes(target.read_bytes()[: int(len(target.read_bytes()) * 0.6)])
    with pytest.raises(ValueError, match="corrupted or truncated"):
        pp.prepare(tmp_path / "pascal", **urls(voc_tar, sbd_tgz))  # md5 of the damaged file
    root = tmp_path / "pascal"
    done = sorted(p.name for p in root.rglob("*.done"))
    assert done == ([] if which == "voc" else ["extract_voc.done"])
    assert not list(root.rglob("*.partial")) and not (root / "SBD").exists()
    assert (root / "VOCdevkit").exists() == (which == "sbd")
    assert not (root / "VOCdevkit" / "VOC2012" / "SegmentationClassAug").exists()


def test_malicious_member_is_refused(tmp_path):
    voc_tar, sbd_tgz = build_archives(tmp_path / "src", make_labels(), evil=True)
    with pytest.raises(ValueError, match=r"refusing archive member '\.\./evil\.txt'"):
        pp.prepare(tmp_path / "root" / "pascal", **urls(voc_tar, sbd_tgz))
    assert not list(tmp_path.rglob("evil.txt"))
    assert not (tmp_path / "root" / "pascal" / "VOCdevkit").exists()


def test_bad_mat_file_is_named(tmp_path):
    bad = tmp_path / "x.mat"
    savemat(bad, {"Other": np.zeros((2, 2))})
    with pytest.raises(ValueError, match="GTcls.Segmentation from .*x.mat"):
        pp.load_sbd_mat(bad, "GTcls")


def test_class_lists_on_the_real_voc_label_maps(shared_data):
    """build_class_lists on the real SegmentationClassAug of VOC 2012 val: the number of val images
    holding a class of each PASCAL-5i fold (measured independently: 433, 479, 647, 354)."""
    from panet_min.data.classlists import build_class_lists, read_id_list

    masks = shared_data / "voc2012-masks"
    val = read_id_list(masks / "val.txt")
    assert len(val) == 1449
    lists = build_class_lists(masks / "SegmentationClassAug", val, 20)
    per_fold = [len(set().union(*(lists[c] for c in range(5 * f + 1, 5 * f + 6)))) for f in range(4)]
    assert per_fold == [433, 479, 647, 354]
    assert len(lists[15]) == 446  # person, the most frequent class
    # every listed image really holds its class (spot check against a direct read)
    lab = np.asarray(Image.open(masks / "SegmentationClassAug" / f"{lists[1][0]}.png"))
    assert (lab == 1).any()


def test_source_folder_force_and_summary(tmp_path):
    voc_tar, sbd_tgz = build_archives(tmp_path / "src", make_labels())
    md5s = dict(voc_md5=md5(voc_tar), sbd_md5=md5(sbd_tgz), workers=1, progress=False, scribbles=False)
    logs = []
    voc = pp.prepare(tmp_path / "pascal", source=tmp_path / "src", log=logs.append, **md5s)
    assert md5(tmp_path / "pascal" / "downloads" / voc_tar.name) == md5(voc_tar)
    assert pp.summary(voc) == (f"PASCAL VOC 2012 + SBD ready in {voc}: train 1, val 1, trainval 2, "
                               "trainaug 3; no scribbles")
    # force: every step runs again (the verified archives are reused, not fetched again)
    (tmp_path / "src" / voc_tar.name).unlink()
    logs.clear()
    pp.prepare(tmp_path / "pascal", force=True, log=logs.append, **md5s)
    assert logs == [f"[run ] {s}" for s in ("extract_voc", "extract_sbd", "class_aug", "object_aug", "lists")]
    with pytest.raises(ValueError, match=r"--source .*src: no file .*src/VOCtrainval_11-May-2012\.tar"):
        pp.prepare(tmp_path / "other", source=tmp_path / "src", **md5s)
