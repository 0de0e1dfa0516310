"""Your own images and their annotations, turned into what an episode holds (for ``panet_min.predict``).

An image is a path, a PIL image or a numpy array of any size (grey, RGBA and palette images become
RGB; a file's EXIF orientation is applied, so the pixels are those a viewer shows). A support is an
image with ONE annotation, in that image's pixels:

- ``mask``: an array or an image file, nonzero = foreground (the dense rule of the episodes,
  :func:`panet_min.data.weak.dense_support`: background = every other pixel);
- ``box``: (x0, y0, x1, y1), 0 <= x0 < x1 <= width, 0 <= y0 < y1 <= height (the box rule,
  :func:`~panet_min.data.weak.bbox_support`: foreground = the box, background = outside it);
- ``scribble``: strokes, each a list of (x, y) points (or typed "x,y x,y ..."), drawn as 1-pixel
  polylines; foreground = the stroke pixels (the scribble rule,
  :func:`~panet_min.data.weak.scribble_support`).

``background`` (optional, any kind): a mask (array, image or file) or a list of strokes; without it the background is the
rule's (for strokes: every pixel off the strokes, the dense rule applied to them). As in the episodes,
the masks are made after the image and its maps are resized to the model's size S: a mask and a box
are resized with nearest neighbours, strokes are drawn at size S (so that a 1-pixel stroke cannot
fall between the pixels a nearest resize keeps). Bad input -> a ValueError naming the support.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from .data.transforms import resize_image, resize_mask
from .data.weak import bbox_support, dense_support, parse_points, polyline_mask, scribble_support


@dataclass
class Support:
    """One support: ``image`` and exactly one of ``mask``, ``box``, ``scribble``; ``background`` optional
    (a mask, or a list of strokes). Coordinates are in the pixels of ``image`` as shown (EXIF orientation applied)."""
    image: object
    mask: object = None
    box: object = None
    scribble: object = None
    background: object = None


def _open(path: Path, what: str) -> Image.Image:
    """The decoded image file (EXIF orientation applied); a clear ValueError when it is not one."""
    if not path.is_file():
        raise ValueError(f"{what} not found: {path}")
    try:
        with Image.open(path) as im:
            im.load()
            return ImageOps.exif_transpose(im)
    except Exception as e:  # PIL raises several types (UnidentifiedImageError, OSError, SyntaxError ...)
        raise ValueError(f"{what} {path} is not an image file PIL can read ({type(e).__name__}): "
                         "give a PNG, JPEG, BMP, ... file") from None


def read_image(image, what: str = "image") -> np.ndarray:
    """A path, PIL image or array ([H,W] grey, [H,W,3] RGB or [H,W,4] RGBA, uint8) -> uint8 RGB [H,W,3]."""
    if isinstance(image, (str, Path)):
        image = _open(Path(image).expanduser(), what)
    if isinstance(image, Image.Image):
        image = ImageOps.exif_transpose(image)  # a no-op when there is no orientation tag
        return np.array(image.convert("RGB"))  # grey, palette, RGBA: their colours, transparency dropped
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise ValueError(f"{what}: expected uint8 pixels 0..255, got an array of {arr.dtype}; convert it, "
                         "e.g. (x * 255).round().astype(np.uint8) for floats in [0, 1]")
    if arr.ndim == 3 and arr.shape[2] in (1, 4):
        arr = arr[..., :1] if arr.shape[2] == 1 else arr[..., :3]
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3 or min(arr.shape[:2]) < 1:
        raise ValueError(f"{what}: expected an image array [H,W], [H,W,3] or [H,W,4], got shape {arr.shape}")
    return np.ascontiguousarray(arr)


def read_mask(mask, what: str = "mask") -> np.ndarray:
    """A mask (path, PIL image or array) -> bool [H,W], nonzero = foreground: the indices of a palette
    or grey image; in a colour image a pixel with a nonzero channel that is not fully transparent."""
    if isinstance(mask, (str, Path)):
        mask = _open(Path(mask).expanduser(), what)
    if isinstance(mask, Image.Image):
        if mask.mode in ("P", "L", "1"):
            return np.array(mask) != 0
        rgba = np.array(mask.convert("RGBA"))
        return rgba[..., :3].any(axis=2) & (rgba[..., 3] > 0)
    arr = np.asarray(mask)
    if arr.ndim == 3 and arr.shape[2] in (1, 3, 4):
        arr = arr[..., :3].any(axis=2) & (arr[..., 3] > 0) if arr.shape[2] == 4 else arr.any(axis=2)
    if arr.ndim != 2 or not (arr.dtype == bool or np.issubdtype(arr.dtype, np.number)):
        raise ValueError(f"{what}: expected a 2-D mask [H,W] of numbers or booleans, got {arr.dtype} {arr.shape}")
    return arr != 0


def parse_box(box, what: str, hw: tuple[int, int]) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) or "x0,y0,x1,y1" -> four floats, checked against the image's [H, W]."""
    H, W = hw
    try:
        values = [float(v) for v in (box.replace(",", " ").split() if isinstance(box, str) else box)]
    except (TypeError, ValueError):
        values = []
    if len(values) != 4 or not np.isfinite(values).all():
        raise ValueError(f"{what}: box {box!r} is not four numbers x0,y0,x1,y1 (in the image's pixels)")
    x0, y0, x1, y1 = values
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"{what}: box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) is empty: it needs x1 > x0 and y1 > y0")
    if x0 < 0 or y0 < 0 or x1 > W or y1 > H:
        raise ValueError(f"{what}: box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) reaches outside the {W}x{H} image "
                         f"(0 <= x0 < x1 <= {W}, 0 <= y0 < y1 <= {H})")
    return x0, y0, x1, y1


def parse_strokes(strokes, what: str, hw: tuple[int, int]) -> list[list[tuple[float, float]]]:
    """Strokes: a typed stroke "x,y x,y ...", a list of (x, y) points, or a list of such strokes ->
    a list of point lists, each point checked to lie on the image (0 <= x <= W-1, 0 <= y <= H-1)."""
    H, W = hw
    if isinstance(strokes, str) or (len(strokes) and np.ndim(strokes[0]) == 1 and not isinstance(strokes[0], str)):
        strokes = [strokes]  # one stroke
    out = []
    for stroke in strokes:
        try:
            points = parse_points(stroke) if isinstance(stroke, str) else [(float(x), float(y)) for x, y in stroke]
        except (TypeError, ValueError) as e:
            raise ValueError(f"{what}: bad scribble {stroke!r} ({e}): give strokes as 'x,y x,y ...' or "
                             "lists of (x, y) points") from None
        for x, y in points:
            if not (0 <= x <= W - 1 and 0 <= y <= H - 1):
                raise ValueError(f"{what}: scribble point ({x:g}, {y:g}) lies outside the {W}x{H} image "
                                 f"(x runs 0..{W - 1}, y 0..{H - 1})")
        if points:
            out.append(points)
    if not out:
        raise ValueError(f"{what}: the scribble has no point: give strokes as 'x,y x,y ...'")
    return out


def draw_strokes(strokes, hw: tuple[int, int], size: int) -> np.ndarray:
    """1-pixel polylines of ``strokes`` (points in an [H, W] image) drawn at size x size: bool [S, S]."""
    H, W = hw
    out = np.zeros((size, size), bool)
    for points in strokes:  # pixel centres map to pixel centres: x' = (x + 0.5) S / W - 0.5
        scaled = [((x + 0.5) * size / W - 0.5, (y + 0.5) * size / H - 0.5) for x, y in points]
        out |= polyline_mask(scaled, (size, size), width=1)
    return out


def _sized_mask(mask, what: str, hw: tuple[int, int], size: int, require_any: bool = False) -> np.ndarray:
    """A mask of an [H, W] image, checked, resized to size x size (nearest): bool [S, S]."""
    m = read_mask(mask, f"{what}: mask")
    if m.shape != hw:
        raise ValueError(f"{what}: the mask is {m.shape[1]}x{m.shape[0]} but its image is {hw[1]}x{hw[0]}: "
                         "give the mask drawn on this image, at its size")
    if require_any and not m.any():
        raise ValueError(f"{what}: the mask has no foreground pixel (nonzero = foreground): mark the object")
    return resize_mask(m, size)


def _background(support: Support, what: str, hw: tuple[int, int], size: int) -> np.ndarray | None:
    """The support's own background at size S, bool [S, S]: strokes (a list) or a mask; None if not given."""
    given = support.background
    if given is None:
        return None
    if isinstance(given, (list, tuple)):
        return draw_strokes(parse_strokes(given, f"{what} (background)", hw), hw, size)
    return _sized_mask(given, f"{what} (background)", hw, size, require_any=True)


def support_arrays(support: Support, size: int, what: str = "support") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One support at the model's size S: (image uint8 [S,S,3], fg bool [S,S], bg bool [S,S])."""
    kinds = [k for k in ("mask", "box", "scribble") if getattr(support, k) is not None]
    if not kinds:
        raise ValueError(f"{what} has no annotation: give it a mask, a box (x0,y0,x1,y1) or a scribble")
    if len(kinds) > 1:
        raise ValueError(f"{what} has {' and '.join(kinds)}: give one annotation per support")
    rgb = read_image(support.image, f"{what}: image")
    hw = rgb.shape[:2]
    given_bg = _background(support, what, hw, size)
    if kinds == ["mask"]:
        m = _sized_mask(support.mask, what, hw, size, require_any=True)
        fg, bg = dense_support(m.astype(np.uint8), 1)
    elif kinds == ["box"]:
        x0, y0, x1, y1 = parse_box(support.box, what, hw)
        boxed = np.zeros(hw, np.uint8)  # the box as an instance map, resized as the episodes resize theirs
        boxed[int(np.floor(y0)):int(np.ceil(y1)), int(np.floor(x0)):int(np.ceil(x1))] = 1
        boxed = resize_mask(boxed, size)
        fg, bg = bbox_support(boxed, boxed == 1)
    else:
        strokes = draw_strokes(parse_strokes(support.scribble, what, hw), hw, size)
        scribble = np.full((size, size), 255, np.uint8)  # a scribble map: 255 none, 0 background, 1 object
        if given_bg is not None:
            scribble[given_bg] = 0
        scribble[strokes] = 1
        fg, bg = scribble_support(scribble, strokes, np.random.default_rng(0))  # one object value: no draw
        if given_bg is None:  # no background strokes: every pixel off the strokes (the dense rule)
            bg = dense_support(fg.astype(np.uint8), 1)[1]
    if given_bg is not None:
        bg = given_bg & ~fg
    if not fg.any():
        raise ValueError(f"{what}: its {kinds[0]} covers no pixel at the model's {size}x{size}: draw it larger, "
                         "or use a larger image size")
    return resize_image(rgb, size), fg, bg


__all__ = ["Support", "read_image", "read_mask", "parse_box", "parse_strokes", "draw_strokes", "support_arrays"]
