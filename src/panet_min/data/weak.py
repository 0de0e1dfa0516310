"""Support masks: the dense rule, and the scribbles and boxes that replace it (paper section 4.3).

The dense rule (:func:`dense_support`, what every episode, the widgets and the predictor use for a
mask): foreground = the pixels of the way's class, background = every other pixel except those of
the episode's other classes (255 border pixels included, as the original). The model is trained with
dense masks; at test time the support masks may be replaced by:

- **scribbles** (``ScribbleAugAuto`` maps: 0 = background scribble, 255 = no scribble, any other
  value = one object scribble): foreground = the pixels of *one* object scribble that lies inside
  the way's class mask (chosen at random when there are several), background = the background
  scribble (anywhere in the image).
- **boxes** (from the instance map ``SegmentationObjectAug``): foreground = the bounding box of the
  largest instance of the way's class (by pixel count inside the class mask), background =
  everything outside the boxes of *all* instances of that class.

Both follow the original code; the masks are computed *after* the maps were resized to the
episode's image size, as there.

Datasets without instance or scribble maps (MSRC-v2) get them from their label maps, **per object**:
:func:`object_map` numbers the connected components of each object class (an object = one
component), and :func:`panet_min.data.scribbles.object_scribble_map` runs the scribble robot on each
object, so that one support scribble marks one object, as the original's random choice among an
image's scribble values implies. Boxes come from the same objects.
"""

from __future__ import annotations

import re

import numpy as np
from PIL import Image
from scipy import ndimage

from .transforms import resize_mask, size_hw


def dense_support(label: np.ndarray, class_id: int, others=(), include_ignore: bool = True,
                  ignore: int = 255) -> tuple[np.ndarray, np.ndarray]:
    """Support masks (fg, bg), bool [H,W], of class ``class_id`` from a label map [H,W].

    fg = ``label == class_id``; bg = every other pixel, except the pixels of ``others`` (the other
    classes of the episode: a pixel of another way is no evidence of background) and, with
    ``include_ignore=False``, the ``ignore`` pixels. The original counts 255 pixels as background.
    """
    label = np.asarray(label)
    if label.ndim != 2:
        raise ValueError(f"label must be a 2-D map [H,W], got shape {label.shape}")
    fg = label == class_id
    bg = ~fg & ~np.isin(label, list(others)) if len(others) else ~fg
    if not include_ignore:
        bg &= label != ignore
    return fg, bg


def _check(name: str, values: np.ndarray, class_mask: np.ndarray) -> None:
    if values.ndim != 2 or values.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8 [H,W], got {values.dtype} {values.shape}")
    if class_mask.shape != values.shape:
        raise ValueError(f"class_mask {class_mask.shape} and {name} {values.shape} differ in size")


def scribble_support(scribble: np.ndarray, class_mask: np.ndarray,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Support masks from a scribble map, as the original ``getMask``.

    scribble: uint8 [H,W] (0 background scribble, 255 none, other values object scribbles);
    class_mask: bool [H,W], the pixels of the way's class. Returns (fg, bg), bool [H,W]:
    fg = class_mask AND scribble == v, v drawn uniformly by ``rng`` from the object-scribble values
    found inside class_mask (fg is empty when there is none); bg = scribble == 0.
    """
    class_mask = np.asarray(class_mask, dtype=bool)
    _check("scribble", scribble, class_mask)
    inside = scribble[class_mask]
    values = np.unique(inside[(inside != 0) & (inside != 255)])
    if values.size:
        fg = class_mask & (scribble == values[rng.integers(values.size)])
    else:
        fg = np.zeros_like(class_mask)
    return fg, scribble == 0


def bbox_support(instances: np.ndarray, class_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Support masks from instance boxes, as the original ``get_bbox``.

    instances: uint8 [H,W] instance ids (0 none, 255 border); class_mask: bool [H,W].
    Only instance pixels inside class_mask count. fg = the filled bounding box (inclusive
    rows/cols) of the instance with the most pixels (ties: the smallest id, like argmax);
    bg = all pixels outside the boxes of every instance of the class. Returns (fg, bg), bool [H,W].
    Differences from the original, which never occur in SBD's maps: 255 pixels inside the class
    mask are not an instance here, and a class mask without instances gives fg empty and bg all
    True (the original raises on an empty argmax).
    """
    class_mask = np.asarray(class_mask, dtype=bool)
    _check("instances", instances, class_mask)
    inst = np.where(class_mask, instances, 0)
    area = np.bincount(inst.ravel(), minlength=256)
    area[0] = area[255] = 0
    fg = np.zeros(inst.shape, dtype=bool)
    bg = np.ones(inst.shape, dtype=bool)
    if area.max() == 0:
        return fg, bg
    for k in np.flatnonzero(area):
        rows, cols = np.nonzero(inst == k)
        bg[rows.min():rows.max() + 1, cols.min():cols.max() + 1] = False
    rows, cols = np.nonzero(inst == int(area.argmax()))
    fg[rows.min():rows.max() + 1, cols.min():cols.max() + 1] = True
    return fg, bg


MIN_OBJECT_PIXELS = 100  # a smaller component (a label fragment) is not an object of its own


def object_map(label: np.ndarray, object_classes, min_pixels: int = MIN_OBJECT_PIXELS) -> np.ndarray:
    """Instance map of a label map: ``label`` uint8 [H,W] -> uint8 [H,W], each 8-connected component of
    each class in ``object_classes`` with at least ``min_pixels`` pixels numbered 1, 2, ... (in class
    order, then scan order); 0 elsewhere. More than 254 objects -> ValueError."""
    if label.ndim != 2:
        raise ValueError(f"object_map expects a 2-D label map, got shape {label.shape}")
    out = np.zeros(label.shape, np.uint8)
    n = 0
    for c in sorted(int(c) for c in object_classes):
        components, k = ndimage.label(label == c, structure=np.ones((3, 3), bool))
        if k == 0:
            continue
        sizes = np.bincount(components.ravel(), minlength=k + 1)
        for j in np.flatnonzero(sizes[1:] >= min_pixels) + 1:
            n += 1
            if n > 254:
                raise ValueError("more than 254 objects in one label map: an instance map holds 254")
            out[components == j] = n
    return out


def resize_scribble(scribble: np.ndarray, size, antialias: bool = False) -> np.ndarray:
    """Resize a scribble map uint8 [H,W] to [S,S].

    Default: nearest neighbour, which keeps every value a scribble id.
    ``antialias=True`` resizes the values with PIL's antialiasing (Lanczos) filter, the filter the
    original code *asks* for (``Image.ANTIALIAS``). Surprise: PIL silently uses nearest for
    palette ("P") images, and ScribbleAugAuto files are palette PNGs, so on those files the
    original effectively resized with nearest. Antialiasing on raw values blends ids: edges of an
    object scribble (say 1) against "none" (255) become in-between values that then count as
    further object scribbles.
    """
    if scribble.ndim != 2 or scribble.dtype != np.uint8:
        raise ValueError(f"scribble must be uint8 [H,W], got {scribble.dtype} {scribble.shape}")
    if not antialias:
        return resize_mask(scribble, size)
    h, w = size_hw(size)
    return np.array(Image.fromarray(scribble).resize((w, h), Image.LANCZOS))


def dilate_scribble(scribble: np.ndarray, size: int) -> np.ndarray:
    """The original's optional ``DilateScribble``: a minimum filter of window ``size`` on the map.

    Because "none" is 255 and the background scribble is 0, a minimum filter grows every scribble
    into its empty surroundings, and where scribbles meet the smaller id wins (the background
    scribble 0 beats every object scribble). ``size <= 1`` returns the map unchanged.
    uint8 [H,W] -> uint8 [H,W].
    """
    if size <= 1:
        return scribble
    return ndimage.minimum_filter(scribble, size=int(size))


def parse_points(text: str) -> list[tuple[float, float]]:
    """Typed points -> [(x1, y1), ...]: "x1,y1; x2,y2" or "x1,y1 x2,y2" (pairs separated by ";", a new
    line or spaces; the two numbers of a pair by a comma or a space). ValueError on a bad pair."""
    points = []
    for part in (p.strip() for p in re.split(r"[;\n]", text or "")):
        if not part:
            continue
        try:
            values = [float(v) for v in re.split(r"[,\s]+", part) if v]
        except ValueError:
            raise ValueError(f"bad point {part!r}: write points as 'x,y; x,y; ...' or 'x,y x,y ...'") from None
        if not values or len(values) % 2:
            raise ValueError(f"bad point {part!r}: write points as 'x,y; x,y; ...' or 'x,y x,y ...'")
        points += list(zip(values[::2], values[1::2]))
    return points


def polyline_mask(points, shape: tuple[int, int], width: int = 3) -> np.ndarray:
    """A drawn scribble: the polyline through ``points`` [(x, y), ...] (or typed text, see
    :func:`parse_points`), rasterised into bool [H,W] (points rounded, clipped into the image) and
    thickened to ``width`` pixels. One point gives a dot."""
    from skimage.draw import line

    points = parse_points(points) if isinstance(points, str) else points
    out = np.zeros(shape, dtype=bool)
    pts = [(int(np.clip(round(y), 0, shape[0] - 1)), int(np.clip(round(x), 0, shape[1] - 1))) for x, y in points]
    for (r0, c0), (r1, c1) in zip(pts, pts[1:] or pts):
        rr, cc = line(r0, c0, r1, c1)
        out[rr, cc] = True
    if width > 1 and out.any():
        out = ndimage.binary_dilation(out, np.ones((width, width), bool))
    return out
