"""A generated few-shot segmentation dataset in the PASCAL VOC on-disk layout.

This is NOT PASCAL VOC and no number measured on it says anything about
PASCAL-5i. It exists so that every loader, the episode sampler, the model and
the book run anywhere (CI, a laptop without the internet) on data in exactly
the VOC format, with 20 object classes so the four PASCAL-5i folds apply
unchanged. It is good for: tests, checking that a pipeline runs end to end,
quick experiments on CPU, and figures that need episodes without real data.
Its classes are easier to tell apart than PASCAL's (simple colour statistics
of an object already identify its class most of the time), so its IoUs say
nothing about real images.

Each class has its own shape family (ellipse, rectangle, triangle, star, ring,
cross, ...) AND its own texture statistics (stripes at an angle, checker,
dots, blotches, rings, plaid, waves; its own pair of hues and period), varied
within the class (size, aspect, rotation, hue/brightness jitter, period and
angle jitter, phase). Backgrounds are cluttered (coloured low-frequency noise,
lines and flat blobs). Each image holds 1-3 objects of 1-2 classes; image i of
a split has class ``order[i % 20]`` as its primary class, so every class is in
at least ``n // 20`` images of a split of n images. Labels follow VOC: 0
background, 1..20 classes, 255 on a band a few pixels wide along every object
boundary (also in the instance maps). Everything is a function of (seed,
split, image index), so the output is the same for any number of workers.
"""
from __future__ import annotations

import colorsys
import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from panet_min.data.classlists import build_class_lists, save_label_png, write_class_lists
from panet_min.data.scribbles import make_scribble_map, scribble_seed

N_CLASSES = 20
FORMAT_VERSION = 1
_SPLIT_CODE = {"train": 1, "val": 2}
PATTERNS = ("stripes", "checker", "dots", "blotches", "rings", "plaid", "waves")


def _poly(x, y, n):
    """Regular n-gon of circumradius 1: max_k <(x,y), dir_k> <= cos(pi/n)."""
    a = 2 * np.pi * np.arange(n) / n + np.pi / 2
    proj = np.max([x * np.cos(t) + y * np.sin(t) for t in a], axis=0)
    return proj <= np.cos(np.pi / n)


def _shape(k: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Shape family of class k (0-based) in local unit coordinates -> bool mask."""
    r, th = np.hypot(x, y), np.arctan2(y, x)
    ax, ay = np.abs(x), np.abs(y)
    shapes = [
        lambda: r <= 1,                                                     # ellipse
        lambda: (ax <= 1) & (ay <= 0.65),                                   # rectangle
        lambda: _poly(x, y, 3),                                             # triangle
        lambda: r <= 0.45 + 0.55 * ((1 + np.cos(5 * th)) / 2) ** 2,         # 5-point star
        lambda: (r <= 1) & (r >= 0.55),                                     # ring
        lambda: ((ax <= 0.3) & (ay <= 1)) | ((ay <= 0.3) & (ax <= 1)),      # cross
        lambda: _poly(x, y, 5),                                             # pentagon
        lambda: _poly(x, y, 6),                                             # hexagon
        lambda: (r <= 1) & (np.hypot(x - 0.5, y) > 0.75),                   # crescent
        lambda: (x**2 + (1.2 * y + 0.25)**2 - 1) ** 3 - x**2 * (-(1.2 * y + 0.25)) ** 3 <= 0,  # heart
        lambda: (r <= 1) & (y >= -0.2),                                     # half disc
        lambda: ((x <= -0.35) & (ax <= 1) & (ay <= 1)) | ((y >= 0.4) & (ax <= 1) & (ay <= 1)),  # L
        lambda: np.sqrt(ax) + np.sqrt(ay) <= 1,                             # astroid (4 points)
        lambda: ((ay <= 0.25) & (x >= -1) & (x <= 0.2)) | ((x > 0.2) & (ay <= 0.8 * (1 - x) / 0.8) & (x <= 1)),  # arrow
        lambda: (ay <= 0.7) & (ax <= 0.55 + 0.45 * (y + 0.7) / 1.4),        # trapezoid
        lambda: r <= 0.7 + 0.3 * np.cos(6 * th),                            # flower
        lambda: ((y >= 0.45) & (ax <= 1) & (y <= 1)) | ((ax <= 0.3) & (y >= -1) & (y <= 1)),  # T
        lambda: (np.maximum(ax, ay) <= 1) & (np.maximum(ax, ay) >= 0.6),    # square frame
        lambda: r <= 0.8 + 0.2 * np.sign(np.cos(8 * th)),                   # gear
        lambda: ax + ay / 0.6 <= 1,                                         # rhombus
    ]
    return shapes[k]()


def _class_style(k: int) -> dict:
    """Fixed appearance statistics of class k: pattern, two hues, period, angle."""
    hue = (k * 7 / N_CLASSES + 0.03) % 1.0
    return {"pattern": PATTERNS[k % len(PATTERNS)], "hue1": hue,
            "hue2": (hue + 0.25 + 0.25 * (k % 3)) % 1.0,
            "val2": 0.35 + 0.3 * ((k // 3) % 2), "period": 7.0 + (3 * k) % 11,
            "angle": np.deg2rad((37 * k) % 180)}


def _hsv(h, s, v) -> np.ndarray:
    return np.asarray(colorsys.hsv_to_rgb(h % 1.0, float(np.clip(s, 0, 1)), float(np.clip(v, 0, 1))))


def _smooth_noise(rng, shape, cell) -> np.ndarray:
    """Low-frequency noise in [0,1] of ``shape``: a random grid of cell ``cell`` px, bilinear."""
    gh, gw = int(np.ceil(shape[0] / cell)) + 1, int(np.ceil(shape[1] / cell)) + 1
    grid = Image.fromarray(rng.random((gh, gw)).astype(np.float32), mode="F")
    big = grid.resize((round(gw * cell), round(gh * cell)), Image.BILINEAR)
    return np.asarray(big)[:shape[0], :shape[1]]


def _pattern(style, rng, u, v, scale) -> np.ndarray:
    """Texture of a class in object coordinates (u, v) px -> mixing weight in [0,1]."""
    period = style["period"] * scale * rng.uniform(0.85, 1.15)
    phi = style["angle"] + rng.normal(0, np.deg2rad(8))
    a = u * np.cos(phi) + v * np.sin(phi)
    b = -u * np.sin(phi) + v * np.cos(phi)
    ph = rng.uniform(0, 2 * np.pi)
    w = 2 * np.pi / period
    kind = style["pattern"]
    if kind == "stripes":
        return np.clip(0.5 + 2 * np.sin(w * a + ph), 0, 1)
    if kind == "checker":
        return ((np.floor(a / period) + np.floor(b / period)) % 2).astype(float)
    if kind == "dots":
        ca, cb = (a % period) - period / 2, (b % period) - period / 2
        return (np.hypot(ca, cb) < 0.3 * period).astype(float)
    if kind == "blotches":
        return np.clip((_smooth_noise(rng, u.shape, period) - 0.5) * 6 + 0.5, 0, 1)
    if kind == "rings":
        return np.clip(0.5 + 2 * np.sin(w * np.hypot(u, v) + ph), 0, 1)
    if kind == "plaid":
        return np.maximum(np.cos(w * a + ph) > 0.6, np.cos(w * b) > 0.6).astype(float)
    return np.clip(0.5 + 2 * np.sin(w * (a + 0.3 * period * np.sin(w * b / 3)) + ph), 0, 1)  # waves


def _background(rng, size) -> np.ndarray:
    """Cluttered background [S,S,3] float in [0,1]: coloured noise + lines + flat blobs."""
    cols = np.stack([_hsv(rng.random(), rng.uniform(0.1, 0.6), rng.uniform(0.3, 0.9)) for _ in range(3)])
    n1, n2 = _smooth_noise(rng, (size, size), size / 3), _smooth_noise(rng, (size, size), size / 12)
    img = cols[0] * (1 - n1[..., None]) + cols[1] * n1[..., None]
    img = img * (1 - 0.5 * n2[..., None]) + cols[2] * 0.5 * n2[..., None]
    for _ in range(rng.integers(3, 9)):
        col = _hsv(rng.random(), rng.uniform(0, 0.7), rng.uniform(0.2, 1))
        cy, cx = rng.uniform(0, size, 2)
        if rng.random() < 0.5:  # a thick line through (cx, cy)
            t, width, half = rng.uniform(0, np.pi), rng.uniform(1, 0.02 * size + 1), rng.uniform(0.1, 0.5) * size
            box, yy, xx = _crop(cy, cx, half + width, size)
            d = np.abs((xx - cx) * np.sin(t) - (yy - cy) * np.cos(t))
            along = np.abs((xx - cx) * np.cos(t) + (yy - cy) * np.sin(t))
            m = (d < width) & (along < half)
        else:                   # a flat blob
            rad, stretch = rng.uniform(0.03, 0.1) * size, rng.uniform(0.5, 2)
            box, yy, xx = _crop(cy, cx, rad * max(1, stretch), size)
            m = np.hypot((xx - cx) / stretch, yy - cy) < rad
        img[box][m] = col
    return img


def _crop(cy, cx, radius, size):
    """Slices of the square of half-side ``radius`` around (cy, cx), clipped to the image,
    and the pixel coordinates (yy, xx) inside it (objects are drawn on crops for speed)."""
    y0, y1 = max(0, int(cy - radius)), min(size, int(cy + radius) + 2)
    x0, x1 = max(0, int(cx - radius)), min(size, int(cx + radius) + 2)
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(float)
    return (slice(y0, y1), slice(x0, x1)), yy, xx


def render_image(seed: int, split: str, index: int, size: int = 256):
    """One generated sample: (image uint8 [S,S,3], label uint8 [S,S], instances uint8 [S,S], classes).

    Deterministic in (seed, split, index). ``classes`` lists the global class
    ids (1..20) visible in the label.
    """
    rng = np.random.default_rng([seed, _SPLIT_CODE[split], index])
    order = np.random.default_rng([seed, _SPLIT_CODE[split]]).permutation(N_CLASSES)
    primary = int(order[index % N_CLASSES])
    chosen = [primary]
    if rng.random() < 0.5:
        chosen.append(int(rng.choice([c for c in range(N_CLASSES) if c != primary])))
    n_obj = int(rng.integers(len(chosen), 4))
    obj_classes = chosen + [int(rng.choice(chosen)) for _ in range(n_obj - len(chosen))]
    rng.shuffle(obj_classes)
    scale = size / 256
    for _attempt in range(20):
        img = _background(rng, size)
        inst = np.zeros((size, size), np.int32)
        for j, k in enumerate(obj_classes, start=1):
            style = _class_style(k)
            s = size * rng.uniform(0.12, 0.28)
            asp = np.exp(rng.uniform(-0.35, 0.35))
            rot = rng.uniform(0, 2 * np.pi)
            cy, cx = rng.uniform(0.2, 0.8, 2) * size
            # every shape lies in |x|, |y| <= 1.3 of its unit frame
            box, yy, xx = _crop(cy, cx, 1.3 * s * max(asp, 1 / asp) * np.sqrt(2), size)
            u = np.cos(rot) * (xx - cx) + np.sin(rot) * (yy - cy)
            v = -np.sin(rot) * (xx - cx) + np.cos(rot) * (yy - cy)
            mask = _shape(k, u / (s * asp), v / (s / asp))
            p = _pattern(style, rng, u, v, scale)[..., None]
            c1 = _hsv(style["hue1"] + rng.normal(0, 0.02), rng.uniform(0.6, 0.9), rng.uniform(0.75, 1.0))
            c2 = _hsv(style["hue2"] + rng.normal(0, 0.02), rng.uniform(0.5, 0.9),
                      style["val2"] + rng.uniform(-0.1, 0.1))
            shade = 1 - 0.25 * np.clip(np.hypot(u, v) / (1.5 * s), 0, 1)[..., None]
            img[box] = np.where(mask[..., None], (c1 * (1 - p) + c2 * p) * shade, img[box])
            inst[box][mask] = j
        # VOC draws a 255 band along every object boundary; ours is ~size/64 px wide on each side
        width = 2 * max(1, round(size / 128)) + 1
        band = ndimage.maximum_filter(inst, width) != ndimage.minimum_filter(inst, width)
        visible = np.bincount(inst[~band].ravel(), minlength=n_obj + 1)[1:]
        min_px = 0.004 * size * size
        if all(visible[[i for i, k in enumerate(obj_classes) if k == c]].sum() >= min_px for c in chosen):
            break
    # renumber instances 1..m in drawing order, dropping fully hidden ones
    keep = np.nonzero(visible > 0)[0] + 1
    remap = np.zeros(n_obj + 1, np.uint8)
    remap[keep] = np.arange(1, len(keep) + 1)
    cls_of = np.zeros(n_obj + 1, np.uint8)
    cls_of[1:] = np.asarray(obj_classes) + 1
    label, instances = cls_of[inst], remap[inst]
    label[band], instances[band] = 255, 255
    img = img * 255 + rng.normal(0, 4, img.shape)
    image = np.clip(img, 0, 255).astype(np.uint8)
    classes = sorted(int(c) for c in np.unique(label) if 0 < c < 255)
    return image, label, instances, classes


def _write_one(args) -> str:
    seed, split, index, size, voc = args
    image_id = f"syn{_SPLIT_CODE[split]}_{index:06d}"
    image, label, instances, _ = render_image(seed, split, index, size)
    Image.fromarray(image).save(voc / "JPEGImages" / f"{image_id}.jpg", quality=90)
    save_label_png(label, voc / "SegmentationClassAug" / f"{image_id}.png")
    save_label_png(instances, voc / "SegmentationObjectAug" / f"{image_id}.png")
    scribble = make_scribble_map(label, seed=scribble_seed(seed, image_id))
    save_label_png(scribble, voc / "ScribbleAugAuto" / f"{image_id}.png")
    return image_id


def make_synthetic_voc(root, seed: int = 0, n_train: int = 1000, n_val: int = 300, size: int = 256,
                       workers: int | None = None, progress: bool = False, overwrite: bool = False) -> Path:
    """Write the generated dataset to ``root/VOCdevkit/VOC2012`` and return that folder.

    Layout: JPEGImages/*.jpg; SegmentationClassAug, SegmentationObjectAug,
    ScribbleAugAuto/*.png (VOC palette); ImageSets/Segmentation/{train,val,
    trainaug,trainval}.txt (trainaug = train) and the class-wise lists
    ImageSets/Segmentation/{split}/class{c}.txt. ``synthetic.json`` is written
    last: when it exists with the same parameters the call returns at once
    (pass ``overwrite=True`` to regenerate). ``workers`` processes render in
    parallel (default: up to 4, the CPU count); the output does not depend on it.
    """
    if min(n_train, n_val) < 1 or size < 64:
        raise ValueError(f"make_synthetic_voc needs n_train, n_val >= 1 and size >= 64, "
                         f"got n_train={n_train}, n_val={n_val}, size={size}")
    voc = Path(root) / "VOCdevkit" / "VOC2012"
    meta_path = voc / "synthetic.json"
    meta = {"format_version": FORMAT_VERSION, "seed": seed, "n_train": n_train, "n_val": n_val,
            "size": size, "note": "generated data, not PASCAL VOC (panet_min.data.synthetic)"}
    if meta_path.is_file() and not overwrite:
        if json.loads(meta_path.read_text()) == meta:
            return voc
        raise ValueError(f"{voc} already holds a generated set with other parameters "
                         f"({meta_path.read_text().strip()}); pass overwrite=True or use another --root")
    meta_path.unlink(missing_ok=True)
    for sub in ("JPEGImages", "SegmentationClassAug", "SegmentationObjectAug", "ScribbleAugAuto",
                "ImageSets/Segmentation"):
        (voc / sub).mkdir(parents=True, exist_ok=True)
    jobs = [(seed, split, i, size, voc) for split, n in (("train", n_train), ("val", n_val)) for i in range(n)]
    workers = workers or min(4, os.cpu_count() or 1)
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            results = pool.map(_write_one, jobs, chunksize=16)
            ids = list(_progress(results, len(jobs), progress))
    else:
        ids = list(_progress(map(_write_one, jobs), len(jobs), progress))
    split_ids = {"train": ids[:n_train], "val": ids[n_train:]}
    split_ids["trainaug"] = split_ids["train"]
    split_ids["trainval"] = split_ids["train"] + split_ids["val"]
    sets = voc / "ImageSets" / "Segmentation"
    for split, sids in split_ids.items():
        (sets / f"{split}.txt").write_text("".join(f"{i}\n" for i in sids))
        write_class_lists(sets, split, build_class_lists(voc / "SegmentationClassAug", sids, N_CLASSES))
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    return voc


def _progress(iterable, total, enabled):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc="generating", unit="img")
