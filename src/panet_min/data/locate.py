"""Find the data a chapter or a run uses, and say which one it is.

``locate("auto")`` prefers real images: a prepared ``data_root/camvid``, then the project machines'
copy (``$PANET_MIN_SHARED_DATA/camvid`` or ``<repo>/../shared/data/camvid``), and only then the
generated VOC-format set ``data_root/synthetic`` (generated on the spot when missing, which takes
about a minute). Every ``Located`` carries a one-line description to print next to every result.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .camvid import camvid_base
from .pascal5i import voc_base
from .sources import PREPARE

DATASETS = ("auto", "camvid", "pascal", "coco", "synthetic")


@dataclass(frozen=True)
class Located:
    """dataset: "camvid" | "pascal" | "coco" | "synthetic" (pass it to ``open_source``);
    root: the folder to open; description: which data this is and where it came from."""

    dataset: str
    root: Path
    description: str


def shared_data_dir() -> Path | None:
    """The shared real-data folder: $PANET_MIN_SHARED_DATA, else <repo>/../shared/data; None if absent."""
    env = os.environ.get("PANET_MIN_SHARED_DATA")
    # src/panet_min/data/locate.py -> parents[3] is the repository root (editable install)
    path = Path(env) if env else Path(__file__).resolve().parents[3].parent / "shared" / "data"
    return path if path.is_dir() else None


def _camvid_ready(root: Path) -> bool:
    base = camvid_base(root)
    return all((base / p).exists() for p in ("train.txt", "test.txt", "train", "trainannot",
                                             "test", "testannot"))


def _voc_ready(root: Path) -> bool:
    base = voc_base(root)
    return all((base / p).exists() for p in ("JPEGImages", "SegmentationClassAug",
                                             "ImageSets/Segmentation/trainaug.txt"))


def default_splits(dataset: str, test_split: str = "original") -> tuple[str, str]:
    """(training split, test split) of a dataset.

    ``test_split="original"`` follows the original code, which samples *test* episodes from the
    training split (``trainaug`` for VOC, ``train`` for COCO); ``"val"`` uses the validation split
    as later papers do. CamVid always tests on ``test`` (its own benchmark).
    """
    if test_split not in ("original", "val"):
        raise ValueError(f"test_split must be 'original' or 'val', got {test_split!r}")
    if dataset == "camvid":
        return "train", "test"
    train = "train" if dataset == "coco" else "trainaug"
    return train, (train if test_split == "original" else "val")


def locate(dataset: str = "auto", data_root="data") -> Located:
    """Find ``dataset`` under ``data_root`` (or the shared data); see the module docstring.

    camvid: data_root/camvid, else the shared copy; pascal: data_root/pascal; coco: data_root/coco;
    synthetic: data_root/synthetic, generated (seed 0, default size) when missing.
    A dataset that cannot be found -> ValueError naming the folders and the prepare command.
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}: expected one of {DATASETS}")
    data_root = Path(data_root).expanduser()
    if dataset in ("auto", "camvid"):
        local, shared = data_root / "camvid", shared_data_dir()
        if _camvid_ready(local):
            return Located("camvid", camvid_base(local),
                           f"CamVid (real street scenes, 11 classes) prepared at {local}")
        if shared is not None and _camvid_ready(shared / "camvid"):
            where = "$PANET_MIN_SHARED_DATA" if os.environ.get("PANET_MIN_SHARED_DATA") else "../shared/data"
            return Located("camvid", camvid_base(shared / "camvid"),
                           f"CamVid (real street scenes, 11 classes) from the shared data folder ({where}/camvid)")
        if dataset == "camvid":
            raise ValueError(f"CamVid not found in {local} nor in the shared data "
                             f"({shared or '$PANET_MIN_SHARED_DATA unset, ../shared/data absent'}); "
                             f"prepare it with `{PREPARE['camvid'].replace('DIR', str(local))}`")
    if dataset == "pascal":
        root = data_root / "pascal"
        if not _voc_ready(root):
            raise ValueError(f"PASCAL VOC 2012 + SBD not found in {root}; prepare it with "
                             f"`{PREPARE['pascal'].replace('DIR', str(root))}`")
        return Located("pascal", voc_base(root), f"PASCAL VOC 2012 + SBD at {voc_base(root)}")
    if dataset == "coco":
        root = data_root / "coco"
        if not (root / "annotations").is_dir():
            raise ValueError(f"COCO 2014 not found in {root}; prepare it with "
                             f"`{PREPARE['coco'].replace('DIR', str(root))}`")
        return Located("coco", root, f"MS COCO 2014 at {root}")
    root = data_root / "synthetic"
    base = voc_base(root)
    if (base / "synthetic.json").is_file() or (dataset == "synthetic" and _voc_ready(root)):
        return Located("synthetic", base, f"generated VOC-format set (not PASCAL) at {base}")
    from .synthetic import make_synthetic_voc
    print(f"panet_min.data.locate: no real data found; generating the synthetic set in {root} "
          "(seed 0, about a minute) ...", flush=True)
    base = make_synthetic_voc(root, seed=0)
    return Located("synthetic", Path(base),
                   f"generated VOC-format set (not PASCAL), made just now at {base}")
