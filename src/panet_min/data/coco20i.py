"""MS COCO 2014 as a few-shot source for COCO-20i (PANet's split), read with pycocotools.

Layout (as the original)::

    annotations/instances_{split}2014.json
    {split}2014/{file_name}         e.g. train2014/COCO_train2014_000000000009.jpg
    lists/{split}/class{c}.txt      optional class-wise lists (python -m panet_min.prepare coco)

Global class id c (1..80) is the c-th category in COCO's order (``folds.COCO_CLASSES``). As in the
original, an image's label is one binary map *per category* (the union of all its annotations,
crowd regions included): a support or query sees only its own class, and there is no 255 region.
``class_list(c)`` are the images with at least one annotation of category c, as
``COCO.getImgIds(catIds=...)`` (sorted here, so lists do not depend on set order).
"""

from __future__ import annotations

import contextlib
import io

import numpy as np

from .sources import Source, read_id_list, read_rgb


class COCOSource(Source):
    """One split (``train`` or ``val``) of COCO 2014; ids are image ids as strings."""

    dataset = "coco"
    has_labels = False
    n_classes = 80

    def __init__(self, root, split: str = "train"):
        super().__init__(root, split)
        ann_file = self.require(self.root / "annotations" / f"instances_{split}2014.json", "annotation file")
        self._image_dir = self.require(self.root / f"{split}2014", "image folder", folder=True)
        from pycocotools.coco import COCO  # optional dependency: only COCO needs it
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
            self.coco = COCO(str(ann_file))
        self.cat_ids = sorted(self.coco.getCatIds())
        if len(self.cat_ids) != self.n_classes:
            raise ValueError(f"{ann_file} has {len(self.cat_ids)} categories, expected 80")
        self.ids = [str(i) for i in sorted(self.coco.getImgIds())]

    def _meta(self, id_: str) -> dict:
        try:
            return self.coco.imgs[int(id_)]
        except (KeyError, ValueError):
            raise ValueError(f"image id {id_!r} is not in {self!r}") from None

    def image(self, id_: str) -> np.ndarray:
        """uint8 RGB [H,W,3] (grey images converted, as the original)."""
        return read_rgb(self._image_dir / self._meta(id_)["file_name"])

    def class_mask(self, id_: str, c: int) -> np.ndarray:
        """bool [H,W]: union of the masks of every annotation of category c (crowd included)."""
        meta = self._meta(id_)
        cat = self.cat_ids[self.check_class(c) - 1]
        mask = np.zeros((meta["height"], meta["width"]), dtype=bool)
        for ann in self.coco.loadAnns(self.coco.getAnnIds(imgIds=meta["id"], catIds=[cat])):
            mask |= self.coco.annToMask(ann).astype(bool)
        return mask

    def ignore_mask(self, id_: str) -> np.ndarray:
        """bool [H,W], all False: COCO labels have no ignore region."""
        meta = self._meta(id_)
        return np.zeros((meta["height"], meta["width"]), dtype=bool)

    def class_list(self, c: int) -> list[str]:
        """Ids of the images with an annotation of global class c: ``lists/{split}/class{c}.txt``
        (written by ``python -m panet_min.prepare coco``) when present, else from the index (sorted)."""
        c = self.check_class(c)
        listed = self.root / "lists" / self.split / f"class{c}.txt"
        if listed.is_file():
            return read_id_list(listed)
        return [str(i) for i in sorted(self.coco.getImgIds(catIds=[self.cat_ids[c - 1]]))]
