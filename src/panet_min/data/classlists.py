"""VOC label files and the class-wise image lists that episodes are drawn from.

PANet samples the images of an episode from per-class lists: for a split and a
class c, the ids of the split whose label map contains c (0 and 255 do not
count). The original writes them to ``ImageSets/Segmentation/{split}/class{c}.txt``
(one id per line); this module builds and writes them, and holds the VOC
palette used for every label PNG of the project.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image


def voc_palette() -> list[int]:
    """The 256-colour PASCAL VOC palette as a flat list [768] (r, g, b, r, g, b, ...).

    Colour of index i: the bits of i spread over the three channels, most
    significant first (bit 3k+j of i goes to bit 7-k of channel j).
    """
    pal = []
    for i in range(256):
        r = g = b = 0
        c = i
        for k in range(8):
            r |= ((c >> 0) & 1) << (7 - k)
            g |= ((c >> 1) & 1) << (7 - k)
            b |= ((c >> 2) & 1) << (7 - k)
            c >>= 3
        pal += [r, g, b]
    return pal


_PALETTE = voc_palette()


def save_label_png(label: np.ndarray, path: str | Path, palette: list[int] | None = None) -> None:
    """Write a uint8 [H,W] map as a palette PNG (values kept as indices; ``palette`` a flat list
    [768], default the VOC palette). The one writer of label, instance and scribble PNGs: the file
    is written under a temporary name and renamed, so a file with the final name is complete."""
    label = np.asarray(label)
    if label.ndim != 2 or label.dtype != np.uint8:
        raise ValueError(f"label for {path} must be uint8 [H,W], got {label.dtype} {label.shape}")
    path = Path(path)
    im = Image.fromarray(label)
    im.putpalette(_PALETTE if palette is None else palette)  # "L" -> "P", indices unchanged
    tmp = path.with_name(path.name + ".tmp")
    im.save(tmp, format="PNG")
    tmp.replace(path)


def read_label(path: str | Path, what: str = "label map") -> np.ndarray:
    """A label, instance or scribble PNG as uint8 [H,W] indices: palette indices of a "P" image (not
    converted to colours), values of an "L" image. The one reader of such files; a missing file or
    another mode -> ValueError naming ``what`` and the file."""
    try:
        with Image.open(path) as im:
            if im.mode not in ("P", "L"):
                raise ValueError(f"{what} {path} has mode {im.mode}: expected a palette ('P') or "
                                 "grey ('L') PNG of class indices")
            return np.array(im, dtype=np.uint8)
    except FileNotFoundError:
        raise ValueError(f"{what} not found: {path}") from None


def _classes_in(path: Path, n_classes: int, first_value: int, allowed: np.ndarray | None) -> np.ndarray:
    counts = np.bincount(read_label(path).ravel(), minlength=256)
    if allowed is not None and (counts[~allowed] > 0).any():
        bad = np.nonzero((counts > 0) & ~allowed)[0]
        raise ValueError(f"{path} has label value(s) {bad.tolist()}, outside the allowed values")
    return np.nonzero(counts[first_value:first_value + n_classes] > 0)[0] + 1


def build_class_lists(label_dir: str | Path, ids: list[str], n_classes: int = 20,
                      workers: int = 4, first_value: int = 1,
                      allowed_values=None) -> dict[int, list[str]]:
    """Class-wise lists of one split: {c: [ids whose label contains c]} for c in 1..n_classes.

    Rule (as the original's list builder): c is listed for an image when any
    pixel of ``label_dir/{id}.png`` equals the stored value of c, which is
    ``c - 1 + first_value`` (VOC: 1, so value c; CamVid stores class c as c - 1:
    pass 0). Other values (background 0 and ignore 255 for VOC, void 11 for
    CamVid) never count. Ids keep the order of ``ids``; every class has a key
    (possibly an empty list). ``allowed_values`` (an iterable of ints): any
    other value in a label map raises ValueError naming the file.
    """
    label_dir = Path(label_dir)
    missing = [i for i in ids[:1000] if not (label_dir / f"{i}.png").is_file()]
    if missing:
        raise ValueError(f"{len(missing)} label files missing in {label_dir}, e.g. {missing[0]}.png")
    allowed = None
    if allowed_values is not None:
        allowed = np.zeros(256, bool)
        allowed[list(allowed_values)] = True
    with ThreadPoolExecutor(max(1, workers)) as pool:
        present = list(pool.map(lambda i: _classes_in(label_dir / f"{i}.png", n_classes, first_value, allowed),
                                ids))
    lists: dict[int, list[str]] = {c: [] for c in range(1, n_classes + 1)}
    for image_id, classes in zip(ids, present):
        for c in classes:
            lists[int(c)].append(image_id)
    return lists


def class_list_path(set_dir: str | Path, split: str, c: int) -> Path:
    """Where the original keeps the list of class c: ``{set_dir}/{split}/class{c}.txt``
    with ``set_dir`` = ``VOC2012/ImageSets/Segmentation``."""
    return Path(set_dir) / split / f"class{c}.txt"


def write_class_lists(set_dir: str | Path, split: str, lists: dict[int, list[str]]) -> None:
    """Write ``lists`` as ``{set_dir}/{split}/class{c}.txt``, one id per line.

    Unlike the original (which writes a file only for classes that occur), every
    class gets a file, empty when no image of the split contains it.
    """
    folder = Path(set_dir) / split
    folder.mkdir(parents=True, exist_ok=True)
    for c, ids in lists.items():
        text = "".join(f"{i}\n" for i in ids)
        class_list_path(set_dir, split, c).write_text(text)


def read_id_list(path: str | Path) -> list[str]:
    """Ids of a split or class list file (one per line, blank lines ignored)."""
    return [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
