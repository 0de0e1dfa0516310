"""CamVid (Brostow et al. 2009), SegNet's 11-class version, as a few-shot source.

Layout (that of the SegNet tutorial's ``CamVid/`` folder)::

    {split}/{stem}.png or .jpg      RGB images, 480 x 360 (the public copy has PNG, some copies JPEG)
    {split}annot/{stem}.png         grey PNG, 0..10 classes (see folds.CAMVID_CLASSES), 11 void
    {split}.txt                     stems of the split (train 367, val 101, test 233)

Labels become panet_min's: stored L in 0..10 -> global id L + 1, void 11 (and any other value)
-> 255 (ignore). Split ``trainval`` = train followed by val. This is this project's few-shot
benchmark on real street scenes (class folds in ``folds.py``), not PASCAL-5i.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .sources import Source, read_id_list, read_label, read_rgb

# stored value -> panet_min label: 0..10 -> 1..11, everything else (11 void) -> 255
_LUT = np.full(256, 255, dtype=np.uint8)
_LUT[:11] = np.arange(1, 12, dtype=np.uint8)


def camvid_base(root) -> Path:
    """``root`` itself when it holds train.txt, else root/camvid or root/CamVid when they do."""
    root = Path(root).expanduser()
    for candidate in (root, root / "camvid", root / "CamVid"):
        if (candidate / "train.txt").is_file() or (candidate / "test.txt").is_file():
            return candidate
    return root


class CamVidSource(Source):
    """One split (``train``, ``val``, ``test``, ``trainval``) of CamVid; class lists are computed."""

    dataset = "camvid"
    has_labels = True
    n_classes = 11

    def __init__(self, root, split: str = "train"):
        super().__init__(root, split, base=camvid_base)
        parts = ["train", "val"] if split == "trainval" else [split]
        self.ids, self._part = [], {}
        for part in parts:
            for folder in (self.root / part, self.root / f"{part}annot"):
                self.require(folder, "folder", folder=True)
            lst = self.require(self.root / f"{part}.txt", f"split list for split {part!r}")
            for stem in read_id_list(lst):
                # some lists hold paths like /SegNet/CamVid/train/x.png: keep the stem
                stem = Path(stem.split()[0]).stem
                self.ids.append(stem)
                self._part[stem] = part
        if not self.ids:
            raise ValueError(f"CamVid split {split!r} at {self.root} lists no images")

    def image(self, id_: str) -> np.ndarray:
        """uint8 RGB [H,W,3] from {split}/{id}.png or .jpg."""
        folder = self.root / self._part[id_]
        for ext in (".png", ".jpg", ".jpeg"):
            if (folder / f"{id_}{ext}").is_file():
                return read_rgb(folder / f"{id_}{ext}")
        raise ValueError(f"image not found: {folder / id_}.png (or .jpg)")

    def label(self, id_: str) -> np.ndarray:
        """uint8 [H,W] in panet_min labels: 1..11 classes, 255 void (no background 0 in CamVid)."""
        raw = read_label(self.root / f"{self._part[id_]}annot" / f"{id_}.png", "CamVid label map")
        return _LUT[raw]
