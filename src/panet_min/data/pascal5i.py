"""PASCAL VOC 2012 + SBD ("SegmentationClassAug") in the layout the original code reads.

``root`` is DIR or DIR/VOCdevkit/VOC2012 (found automatically)::

    JPEGImages/{id}.jpg                 RGB images
    SegmentationClassAug/{id}.png       palette PNG: 0 background, 1..20 VOC classes, 255 border
    SegmentationObjectAug/{id}.png      palette PNG: instance ids 1..n, 0 none, 255 border
    ScribbleAugAuto/{id}.png            palette PNG: 0 background scribble, 255 none, else objects
    ImageSets/Segmentation/{split}.txt  one id per line (train, val, trainaug)
    ImageSets/Segmentation/{split}/class{c}.txt   class-wise lists, as the original (c = 1..20)

The generated dataset (``python -m panet_min.prepare synthetic``) uses the very same layout. A
label-only copy (``SegmentationClassAug/`` with ``{split}.txt`` beside it, no images) can be opened
with ``labels_only=True`` to build class lists and sample episodes' ids without pixels.
PASCAL-5i folds: see ``folds.py``. Note the original samples *test* episodes from ``trainaug``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .sources import Source, missing, read_id_list, read_label, read_rgb


def voc_base(root) -> Path:
    """DIR/VOCdevkit/VOC2012 when it exists, else DIR itself."""
    root = Path(root).expanduser()
    nested = root / "VOCdevkit" / "VOC2012"
    return nested if nested.is_dir() else root


class VOCSource(Source):
    """One split (``train``, ``val``, ``trainaug``, ...) of a VOC-layout folder; labels as stored.

    ``.dataset`` is "synthetic" for the generated set (``synthetic=True`` or a ``synthetic.json``
    in the folder), else "pascal"; both use the PASCAL-5i folds.
    """

    dataset = "pascal"
    has_labels = True
    n_classes = 20

    def __init__(self, root, split: str = "trainaug", labels_only: bool = False,
                 synthetic: bool = False):
        super().__init__()
        self.root = voc_base(root)
        self.split = split
        self.labels_only = labels_only
        # the generated set is read exactly like VOC but recorded under its own name
        synthetic = synthetic or (self.root / "synthetic.json").is_file()
        self.dataset = self._kind = "synthetic" if synthetic else "pascal"
        if not self.root.is_dir():
            raise missing("dataset folder", self.root, self._kind, Path(root))
        self._label_dir = self.root / "SegmentationClassAug"
        self._image_dir = self.root / "JPEGImages"
        self._list_dir = self.root / "ImageSets" / "Segmentation"
        for folder in [self._label_dir] + ([] if labels_only else [self._image_dir]):
            if not folder.is_dir():
                raise missing("folder", folder, self._kind, Path(root))
        # the label-only layout keeps {split}.txt beside SegmentationClassAug/
        candidates = [self._list_dir / f"{split}.txt", self.root / f"{split}.txt"]
        found = [p for p in candidates if p.is_file()]
        if not found:
            raise missing(f"split list for split {split!r}", candidates[0], self._kind, Path(root))
        self.ids = read_id_list(found[0])
        if not self.ids:
            raise ValueError(f"split list {found[0]} is empty")

    def image(self, id_: str) -> np.ndarray:
        """uint8 RGB [H,W,3] from JPEGImages/{id}.jpg."""
        if self.labels_only:
            raise ValueError(f"{self!r} was opened with labels_only=True: it has no images")
        return read_rgb(self._image_dir / f"{id_}.jpg")

    def label(self, id_: str) -> np.ndarray:
        """uint8 [H,W] from SegmentationClassAug/{id}.png: 0 bg, 1..20 classes, 255 border."""
        return read_label(self._label_dir / f"{id_}.png", "label map")

    def instances(self, id_: str) -> np.ndarray:
        """uint8 [H,W] from SegmentationObjectAug/{id}.png: 0 none, 1..n instances, 255 border."""
        folder = self.root / "SegmentationObjectAug"
        if not folder.is_dir():
            raise missing("instance folder (needed for box supports)", folder, self._kind, self.root)
        return read_label(folder / f"{id_}.png", "instance map")

    def scribble(self, id_: str) -> np.ndarray:
        """uint8 [H,W] from ScribbleAugAuto/{id}.png: 0 bg scribble, 255 none, other = object scribbles."""
        folder = self.root / "ScribbleAugAuto"
        if not folder.is_dir():
            raise missing("scribble folder (needed for scribble supports)", folder, self._kind, self.root)
        return read_label(folder / f"{id_}.png", "scribble map")

    def _listed_class_list(self, c: int) -> list[str] | None:
        # The original reads ImageSets/Segmentation/{split}/class{c}.txt and nothing else.
        path = self._list_dir / self.split / f"class{c}.txt"
        if not path.is_file():
            return None
        return read_id_list(path)
