"""Tests of panet_min.weights and the offline ImageNet VGG-16 extraction (panet_min.prepare.vgg16)."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from panet_min import weights as W

MEAN = torch.tensor(W.IMAGENET_MEAN, dtype=torch.float64).view(1, 3, 1, 1)
STD = torch.tensor(W.IMAGENET_STD, dtype=torch.float64).view(1, 3, 1, 1)
CAFFE_BGR = torch.tensor(W.CAFFE_MEAN_BGR, dtype=torch.float64).view(1, 3, 1, 1)


def fake_vgg16(seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(s, generator=g) for k, s in W.VGG16_CONV_SHAPES.items()}


def to_caffe(x_norm: torch.Tensor) -> torch.Tensor:
    """Reference: normalised RGB -> Caffe input (BGR, 0-255, minus the BGR mean)."""
    return (255.0 * (x_norm * STD + MEAN)).flip(1) - CAFFE_BGR


@pytest.fixture(scope="module")
def fake_file(tmp_path_factory):
    """A torchvision-format file with classifier keys, saved under a ``module.`` prefix."""
    sd = fake_vgg16()
    full = dict(sd)
    full["classifier.0.weight"] = torch.randn(16, 8)  # any shape: must be ignored
    full["classifier.0.bias"] = torch.randn(16)
    path = tmp_path_factory.mktemp("w") / "my_vgg.pth"
    torch.save({f"module.{k}": v for k, v in full.items()}, path)
    return path, sd


def test_keys_in_torchvision_order():
    idx = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    assert W.VGG16_CONV_KEYS == [f"features.{i}.{p}" for i in idx for p in ("weight", "bias")]
    assert sum(torch.Size(s).numel() for s in W.VGG16_CONV_SHAPES.values()) == 14_714_688
    assert W.VGG16_CONV_SHAPES["features.10.weight"] == (256, 128, 3, 3)


def test_load_file_ignores_classifier_and_strips_module_prefix(fake_file):
    path, sd = fake_file
    loaded, info = W.resolve_vgg16_weights(path)
    assert list(loaded) == W.VGG16_CONV_KEYS
    for k in W.VGG16_CONV_KEYS:
        assert torch.equal(loaded[k], sd[k]), k
    assert "my_vgg.pth" in info and "/" not in info
    same, _ = W.resolve_vgg16_weights(str(path))
    assert torch.equal(same["features.28.bias"], sd["features.28.bias"])


def test_state_dict_wrapped_in_state_dict_key(tmp_path):
    sd = fake_vgg16(1)
    path = tmp_path / "ckpt.pth"
    torch.save({"state_dict": sd, "epoch": 3}, path)
    loaded, _ = W.resolve_vgg16_weights(path)
    assert torch.equal(loaded["features.0.weight"], sd["features.0.weight"])
    given, info = W.resolve_vgg16_weights(sd)
    assert torch.equal(given["features.26.weight"], sd["features.26.weight"])
    assert "state dict" in info


def test_wrong_shape_missing_key_nan_are_named():
    sd = fake_vgg16()
    bad = dict(sd, **{"features.7.weight": torch.zeros(128, 64, 3, 3)})
    with pytest.raises(ValueError, match=r"features\.7\.weight.*\(128, 64, 3, 3\).*\(128, 128, 3, 3\)"):
        W.resolve_vgg16_weights(bad)
    missing = {k: v for k, v in sd.items() if k != "features.19.bias"}
    with pytest.raises(ValueError, match=r"missing key 'features\.19\.bias'"):
        W.resolve_vgg16_weights(missing)
    nan = dict(sd, **{"features.2.bias": torch.full((64,), float("nan"))})
    with pytest.raises(ValueError, match=r"features\.2\.bias.*NaN"):
        W.resolve_vgg16_weights(nan)
    with pytest.raises(ValueError, match="does not exist"):
        W.resolve_vgg16_weights("no/such/file.pth")
    with pytest.raises(ValueError, match="weights must be"):
        W.resolve_vgg16_weights(3)


def test_none_means_random():
    sd, info = W.resolve_vgg16_weights(None)
    assert sd is None and "random" in info


def test_folding_exact_inside_and_equal_to_caffe_value_padding():
    """Known answer: folded conv on x_norm == Caffe conv on the Caffe image, inside.

    At the border the folded conv equals the Caffe conv on the Caffe image
    padded with the Caffe value of x_norm = 0 (b_c), instead of 0.
    """
    g = torch.Generator().manual_seed(0)
    w = torch.randn(8, 3, 3, 3, generator=g, dtype=torch.float64)
    b = torch.randn(8, generator=g, dtype=torch.float64)
    x_norm = torch.randn(1, 3, 11, 13, generator=g, dtype=torch.float64)
    fw, fb = W.fold_caffe_normalisation(w, b)
    assert fw.dtype == torch.float64 and fw.shape == w.shape and fb.shape == b.shape
    y_caffe = F.conv2d(to_caffe(x_norm), w, b, padding=1)
    y_fold = F.conv2d(x_norm, fw, fb, padding=1)
    inner = (y_caffe - y_fold)[..., 1:-1, 1:-1].abs().max().item()
    assert inner < 1e-9
    border = (y_caffe - y_fold).abs().max().item()
    assert border > 1e-3  # padding differs: the fold is not exact there
    pad_value = to_caffe(torch.zeros(1, 3, 1, 1, dtype=torch.float64))
    padded = pad_value.expand(1, 3, 13, 15).clone()
    padded[..., 1:-1, 1:-1] = to_caffe(x_norm)
    assert torch.allclose(F.conv2d(padded, w, b), y_fold, atol=1e-9)


def test_fold_rejects_non_rgb_kernel():
    with pytest.raises(ValueError, match="weight"):
        W.fold_caffe_normalisation(torch.zeros(4, 1, 3, 3), torch.zeros(4))


def test_imagenet_is_the_pinned_file_and_nothing_else(tmp_path, monkeypatch, fake_file):
    monkeypatch.setenv("PANET_MIN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(W.WeightsNotFound, match=r"python -m panet_min\.prepare weights") as err:
        W.resolve_vgg16_weights("imagenet")
    assert str(tmp_path / "cache") in str(err.value)
    # torchvision's file in torch.hub's folder is not the pinned one: "imagenet" never takes it
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    torch.save(fake_vgg16(2), hub / W.TORCHVISION_FILE)
    with pytest.raises(W.WeightsNotFound):
        W.resolve_vgg16_weights("imagenet")
    # a file with other tensors in the pinned place is refused, naming the rebuild command
    path, sd = fake_file
    (tmp_path / "cache").mkdir()
    os.symlink(path, tmp_path / "cache" / W.OFFLINE_FILE)
    with pytest.raises(W.WeightsNotFound, match=r"other weights than the pinned ones.*--force"):
        W.resolve_vgg16_weights("imagenet")
    monkeypatch.setattr(W, "PINNED_TENSOR_SHA256", W.tensor_digest(sd))
    loaded, info = W.resolve_vgg16_weights("imagenet")
    assert info == W.OFFLINE_INFO and torch.equal(loaded["features.0.bias"], sd["features.0.bias"])


def test_torchvision_is_found_in_the_hub_folder_else_downloaded_through_the_mirror(tmp_path, monkeypatch):
    from urllib.parse import urlsplit

    monkeypatch.setenv("PANET_MIN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    other = fake_vgg16(3)
    url = urlsplit(W.TORCHVISION_URL)
    mirrored = tmp_path / "mirror" / url.netloc / url.path.lstrip("/")
    mirrored.parent.mkdir(parents=True)
    torch.save(other, mirrored)
    monkeypatch.setenv("PANET_MIN_MIRROR", str(tmp_path / "mirror"))
    # a fake file cannot carry torchvision's sha256 prefix: the download is refused
    with pytest.raises(ValueError, match="checksum mismatch.*sha256"):
        W.resolve_vgg16_weights("torchvision")
    monkeypatch.setattr(W, "TORCHVISION_SHA256_PREFIX", hashlib.sha256(mirrored.read_bytes()).hexdigest()[:8])
    loaded, info = W.resolve_vgg16_weights("torchvision")
    assert info == W.TORCHVISION_INFO and torch.equal(loaded["features.0.bias"], other["features.0.bias"])
    assert (tmp_path / "cache" / W.TORCHVISION_FILE).is_file()


# ---- the real extracted file (made by `make test` before pytest runs) ----

def _real_file() -> Path:
    path = W.cache_dir() / W.OFFLINE_FILE
    if not path.is_file():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{path} is missing: the set-up must run `python -m panet_min.prepare weights` "
                        "before the tests (the Makefile's `weights` target)")
        from panet_min.prepare import vgg16

        vgg16.prepare()
    return path


def test_real_offline_weights_check_values():
    path = _real_file()
    meta = json.loads(path.with_name("vgg16-imagenet-offline.json").read_text())
    assert hashlib.sha256(path.read_bytes()).hexdigest() == meta["sha256"]
    sd, _ = W.resolve_vgg16_weights(path)
    assert sum(t.numel() for t in sd.values()) == 14_714_688
    assert abs(sd["features.28.bias"][0].item() - 0.18837857) < 1e-7  # untouched by the fold
    # Undo the fold by hand (RGB -> BGR, divide by a_c, remove the bias shift)
    # and recover the published conv1_1 bias.
    fw, fb = sd["features.0.weight"].double(), sd["features.0.bias"].double()
    a = 255.0 * STD.view(3)
    b = 255.0 * MEAN.view(3) - CAFFE_BGR.view(3).flip(0)
    orig_w_rgb = fw / a.view(1, 3, 1, 1)
    orig_b = fb - (orig_w_rgb.sum(dim=(2, 3)) * b).sum(dim=1)
    assert torch.allclose(orig_b[:4], torch.tensor([0.73429835, 0.093403675, 0.06775674, 0.8862966],
                                                   dtype=torch.float64), atol=1e-5)


def test_real_conv1_1_fold_interior_vs_border():
    """On the real conv1_1: the fold is exact inside, off by < 1% of the output scale at the border."""
    sd, _ = W.resolve_vgg16_weights(_real_file())
    fw, fb = sd["features.0.weight"].double(), sd["features.0.bias"].double()
    # Rebuild the Caffe kernel from the folded one, then compare both convs.
    a = 255.0 * STD.view(1, 3, 1, 1)
    b = 255.0 * MEAN.view(3) - CAFFE_BGR.view(3).flip(0)
    w_rgb = fw / a
    cw, cb = w_rgb.flip(1), fb - (w_rgb.sum(dim=(2, 3)) * b).sum(dim=1)
    x_norm = (torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0),
                         dtype=torch.float64) - MEAN) / STD
    y_caffe = F.conv2d(to_caffe(x_norm), cw, cb, padding=1)
    diff = (y_caffe - F.conv2d(x_norm, fw, fb, padding=1)).abs()
    inner, border = diff[..., 1:-1, 1:-1].max().item(), diff.max().item()
    print(f"conv1_1 fold: max |diff| interior {inner:.2e}, border {border:.3f}, "
          f"output scale {y_caffe.abs().max().item():.0f}")
    assert inner < 1e-9
    assert 1e-3 < border < 0.01 * y_caffe.abs().max().item()
