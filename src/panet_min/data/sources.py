"""Sources: one split of one dataset on disk, read as images and label maps in panet_min's labels.

Every source offers ``.ids``, ``.image(id)`` (uint8 RGB [H,W,3]), ``.class_mask(id, c)`` and
``.ignore_mask(id)`` (bool [H,W]) and ``.class_list(c)`` (the ids whose label contains global class
c). Label-map datasets (VOC, CamVid, MSRC, the generated set) also give ``.label(id)``: uint8 [H,W]
with 0 = background, 1..C = global ids, 255 = ignore. The concrete classes live in ``msrc.py``,
``pascal5i.py``, ``camvid.py`` and ``coco20i.py``; ``registry.py`` names them (``open_source``).

Read checks fail early with a ValueError that names the folder or id and the command that fixes it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from .classlists import read_id_list, read_label

__all__ = ["Source", "missing", "prepare_command", "read_id_list", "read_label", "read_rgb",
           "check_same_size"]

def prepare_command(dataset: str, root) -> str:
    """The command that prepares ``dataset`` into ``root`` (printed by every missing-data error)."""
    extra = " --seed 0" if dataset == "synthetic" else ""
    return f"python -m panet_min.prepare {dataset} --root {root}{extra}"


def missing(what: str, path: Path, dataset: str, root: Path) -> ValueError:
    """A ValueError naming the missing ``path`` and the command that prepares ``root``."""
    command = prepare_command(dataset, root)
    return ValueError(f"{what} not found: {path}. The {dataset} data at {root} is missing or "
                      f"incomplete; prepare it with `{command}`.")


def read_rgb(path: Path) -> np.ndarray:
    """An image file as uint8 RGB [H,W,3] (grey and palette images are converted)."""
    try:
        with Image.open(path) as im:
            return np.array(im.convert("RGB"), dtype=np.uint8)
    except FileNotFoundError:
        raise ValueError(f"image not found: {path}") from None


def check_same_size(id_: str, image: np.ndarray, other: np.ndarray, what: str = "label") -> None:
    """ValueError naming ``id_`` unless image [H,W,3] and ``other`` [H,W] have the same H x W."""
    if image.shape[:2] != other.shape[:2]:
        raise ValueError(f"image {id_!r} is {image.shape[1]}x{image.shape[0]} (WxH) but its {what} "
                         f"is {other.shape[1]}x{other.shape[0]}: the files of this id do not belong "
                         "together; re-run the dataset's prepare script")


class Source:
    """Common part of every source. Subclasses set ``dataset``, ``ids``, ``n_classes`` (and
    ``root``, ``split``: see ``__init__``) and implement ``image`` and ``class_mask``."""

    dataset: str = ""
    has_labels: bool = False  # True when .label(id) exists (VOC, CamVid, generated set)

    def __init__(self, root=None, split: str | None = None, base=None) -> None:
        """With ``root``: ``self.split = split`` and ``self.root = base(root)`` (the dataset's folder
        found from ``root``; ``root`` itself, ``~`` expanded, without ``base``). The missing-data
        errors of :meth:`require` name the ``root`` given here, the folder to prepare."""
        self._class_lists: dict[int, list[str]] | None = None
        if root is not None:
            self._given_root = Path(root).expanduser()
            self.root = base(root) if base is not None else self._given_root
            self.split = split

    def require(self, path: Path, what: str, folder: bool = False) -> Path:
        """``path`` when it is a file (a folder with ``folder=True``), else the ValueError of
        :func:`missing`: ``what`` and ``path``, and the command that prepares this dataset."""
        if not (path.is_dir() if folder else path.is_file()):
            raise missing(what, path, self.dataset, getattr(self, "_given_root", None) or self.root)
        return path

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r}, split={self.split!r}, {len(self)} ids)"

    def check_class(self, c: int) -> int:
        """``c`` as an int, or a ValueError unless it is a global id 1..n_classes."""
        if not 1 <= int(c) <= self.n_classes:
            raise ValueError(f"class {c} is not a {self.dataset} class id: expected 1..{self.n_classes}")
        return int(c)

    def class_list(self, c: int) -> list[str]:
        """Ids of this split whose label map contains global class ``c`` (0 and 255 never count)."""
        c = self.check_class(c)
        if self._class_lists is None:  # set by drop_images_with, or computed once below
            listed = self._listed_class_list(c)
            if listed is not None:
                return listed
            self._class_lists = self._compute_class_lists()
        return list(self._class_lists.get(c, []))

    def _listed_class_list(self, c: int) -> list[str] | None:
        return None  # subclasses with class-wise list files on disk override this

    def classes_in(self, id_: str) -> list[int]:
        """Sorted global ids present in the label of ``id_`` (label-map sources)."""
        values = np.unique(self.label(id_))
        return [int(v) for v in values if 0 < v <= self.n_classes]

    def _compute_class_lists(self) -> dict[int, list[str]]:
        # PNG decoding releases the GIL, so threads give a real speed-up on the ~10k SBD maps.
        with ThreadPoolExecutor(max_workers=8) as pool:
            present = list(pool.map(self.classes_in, self.ids))
        lists: dict[int, list[str]] = {}
        for id_, classes in zip(self.ids, present):
            for c in classes:
                lists.setdefault(c, []).append(id_)
        return lists

    def drop_images_with(self, classes) -> "Source":
        """This source without the images whose label holds any of ``classes`` (label-map sources).

        The *strict* protocol: training never sees an image of a test class, even as background.
        Returns ``self``, changed (ids and class lists).
        """
        drop = {self.check_class(c) for c in classes}
        keep = [id_ for id_ in self.ids if not drop & set(self.classes_in(id_))]
        kept = set(keep)
        lists = {c: [i for i in self.class_list(c) if i in kept] for c in range(1, self.n_classes + 1)}
        self.ids = keep
        self._class_lists = lists
        self.dropped_classes = sorted(drop)
        return self

    def ignore_mask(self, id_: str) -> np.ndarray:
        """bool [H,W]: pixels labelled 255 (borders, void)."""
        return self.label(id_) == 255

    def class_mask(self, id_: str, c: int) -> np.ndarray:
        """bool [H,W]: pixels whose label is global class ``c``."""
        return self.label(id_) == self.check_class(c)
