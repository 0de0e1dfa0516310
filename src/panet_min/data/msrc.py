"""MSRC-v2 (Microsoft Research Cambridge object-class database v2) as a few-shot source.

591 photographs (320 x 213, 320 x 240, ...) with dense colour-coded label maps over 23 classes
(Shotton et al., ECCV 2006, TextonBoost; the database is A. Criminisi's). ``python -m
panet_min.prepare msrc --root DIR`` downloads the official zip (or copies a local copy), checks
every file against the sha256 manifest shipped in this package, and writes::

    DIR/msrc/Images/{stem}.bmp          the original photos, unchanged
    DIR/msrc/labels/{stem}.png          palette PNG in panet_min labels (decoded from GroundTruth)
    DIR/msrc/all.txt                    the 591 stems
    DIR/msrc/prepared.json              what was prepared, from which copy, the manifest digest

Labels: the legend's colours (``MSRC_COLOURS``) become global ids 1..23 in the legend's order;
pure black, *void*, becomes 255 (ignore). There is no "background" colour: every non-void
pixel belongs to a class. Few-shot folds ("MSRC-5i", ``folds.py``) use the 15 object classes;
the stuff classes (building, grass, tree, sky, water, road, mountain) and horse are never a way,
so they are background in every episode, as everything outside the 20 objects is in PASCAL-5i.

Licence: Microsoft Research Digital Image License Agreement, non-commercial use only, "as is";
figures of the book show these images resized.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .sources import Source, missing, read_id_list, read_label, read_rgb

# The legend of ClickMe.html, in its order: global id = index + 1. (0, 0, 0) is void.
MSRC_LEGEND = (
    ("building", (128, 0, 0)), ("grass", (0, 128, 0)), ("tree", (128, 128, 0)),
    ("cow", (0, 0, 128)), ("horse", (128, 0, 128)), ("sheep", (0, 128, 128)),
    ("sky", (128, 128, 128)), ("mountain", (64, 0, 0)), ("aeroplane", (192, 0, 0)),
    ("water", (64, 128, 0)), ("face", (192, 128, 0)), ("car", (64, 0, 128)),
    ("bicycle", (192, 0, 128)), ("flower", (64, 128, 128)), ("sign", (192, 128, 128)),
    ("bird", (0, 64, 0)), ("book", (128, 64, 0)), ("chair", (0, 192, 0)),
    ("road", (128, 64, 128)), ("cat", (0, 192, 128)), ("dog", (128, 192, 128)),
    ("body", (64, 64, 0)), ("boat", (192, 64, 0)),
)
MSRC_CLASSES = tuple(name for name, _ in MSRC_LEGEND)
MSRC_COLOURS = tuple(rgb for _, rgb in MSRC_LEGEND)
VOID_RGB = (0, 0, 0)

FOLDER = "msrc"
ORIGINAL = "MSRC_ObjCategImageDatabase_v2"


def _code(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.int64)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


_CODES = np.array([_code(np.array(c)) for c in MSRC_COLOURS + (VOID_RGB,)])
_IDS = np.array(list(range(1, len(MSRC_COLOURS) + 1)) + [255], dtype=np.uint8)
_ORDER = np.argsort(_CODES)


def decode_ground_truth(rgb: np.ndarray, name: str = "label map") -> np.ndarray:
    """A colour-coded MSRC map, uint8 RGB [H,W,3] -> uint8 [H,W]: 1..23 legend ids, 255 void.

    A colour that is not in the legend -> ValueError naming it (the file is not an MSRC map).
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"{name}: expected an RGB image [H,W,3], got shape {rgb.shape}")
    code = _code(rgb)
    sorted_codes = _CODES[_ORDER]
    pos = np.clip(np.searchsorted(sorted_codes, code), 0, len(sorted_codes) - 1)
    known = sorted_codes[pos] == code
    if not known.all():
        bad = tuple(int(v) for v in rgb[~known][0])
        raise ValueError(f"{name}: colour {bad} is not in the MSRC-v2 legend; the file is not an "
                         "MSRC-v2 ground-truth map (or it was re-encoded lossily)")
    return _IDS[_ORDER][pos]


def msrc_base(root) -> Path:
    """``root`` when it holds all.txt, else root/msrc."""
    root = Path(root).expanduser()
    return root if (root / "all.txt").is_file() else root / FOLDER


class MSRCSource(Source):
    """The prepared MSRC-v2 folder; one split, ``all`` (591 images): like the original's trainaug,
    training and test episodes come from the same images, only the classes differ."""

    dataset = "msrc"
    has_labels = True
    n_classes = len(MSRC_CLASSES)

    def __init__(self, root, split: str = "all"):
        super().__init__()
        self.root = msrc_base(root)
        self.split = split
        lst = self.root / f"{split}.txt"
        for folder in (self.root / "Images", self.root / "labels"):
            if not folder.is_dir():
                raise missing("folder", folder, "msrc", Path(root))
        if not lst.is_file():
            raise missing(f"image list of split {split!r}", lst, "msrc", Path(root))
        self.ids = read_id_list(lst)
        if not self.ids:
            raise ValueError(f"MSRC split {split!r} at {self.root} lists no images")

    def image(self, id_: str) -> np.ndarray:
        """uint8 RGB [H,W,3] from Images/{id}.bmp."""
        return read_rgb(self.root / "Images" / f"{id_}.bmp")

    def label(self, id_: str) -> np.ndarray:
        """uint8 [H,W]: 1..23 legend ids, 255 void (no background 0 in MSRC)."""
        return read_label(self.root / "labels" / f"{id_}.png", "MSRC label map")

    # Weak supports (MSRC has no instance or scribble maps): made from the label maps, per object.
    scribble_seed = 0  # the seed of the scribble robot (evaluate --scribble-seed)

    def _object_classes(self) -> list[int]:
        from .folds import fold_classes, n_folds

        return sorted({c for f in range(n_folds("msrc")) for c in fold_classes("msrc", f, train=False)})

    def instances(self, id_: str) -> np.ndarray:
        """uint8 [H,W]: the fold classes' objects (8-connected components of 100 pixels or more)
        numbered 1, 2, ...; 0 elsewhere (:func:`panet_min.data.weak.object_map`)."""
        from .weak import object_map

        return self._weak_cache(("instances", id_), lambda: object_map(self.label(id_), self._object_classes()))

    def scribble(self, id_: str) -> np.ndarray:
        """uint8 [H,W] scribble map: object k's robot scribble = k (objects as :meth:`instances`), a
        background scribble = 0 over the pixels of no fold class (stuff, horse, and void: MSRC leaves
        the surroundings of many objects unlabelled, and a dense support counts void as background
        too; without it most book, flower and face photos would have no background at all), none =
        255. Seeded per image by (``scribble_seed``, id)."""
        from .scribbles import object_scribble_map, scribble_seed

        def make():
            label = self.label(id_)
            background = ~np.isin(label, self._object_classes())
            return object_scribble_map(self.instances(id_), background, scribble_seed(self.scribble_seed, id_))

        return self._weak_cache(("scribble", self.scribble_seed, id_), make)

    def _weak_cache(self, key, make) -> np.ndarray:
        cache = self.__dict__.setdefault("_weak_maps", {})  # 591 small maps: kept for the source's life
        if key not in cache:
            cache[key] = make()
        return cache[key]
