"""The datasets ``panet_min`` knows, by name: which source class reads them and which splits
episodes come from. The registry sits above the source classes (as hsnet's ``data/dataset.py``), so
they never import it.

=========  ======================  ==================  ====================================
name       source                  splits (train/test)  folds
=========  ======================  ==================  ====================================
msrc       MSRCSource (msrc.py)    all / all            MSRC-5i: 3 folds of 5 objects
pascal     VOCSource (pascal5i)    trainaug / trainaug  PASCAL-5i: 4 folds of 5
coco       COCOSource (coco20i)    train / train        COCO-20i (PANet's split): 4 of 20
camvid     CamVidSource (camvid)   train / test         2 folds (odd / even ids)
synthetic  VOCSource, generated    trainaug / trainaug  PASCAL-5i folds
=========  ======================  ==================  ====================================

The original code draws *test* episodes from the training split (``trainaug``), only the classes
differ; :func:`episode_splits` keeps that and offers ``test_split="val"`` where a val split exists.
"""
from __future__ import annotations

from .camvid import CamVidSource
from .coco20i import COCOSource
from .msrc import MSRCSource
from .pascal5i import VOCSource
from .sources import Source

DATASETS = ("msrc", "pascal", "coco", "camvid", "synthetic")

# name -> (training split, test split as the original, test split with test_split="val")
_SPLITS = {
    "msrc": ("all", "all", None),
    "pascal": ("trainaug", "trainaug", "val"),
    "synthetic": ("trainaug", "trainaug", "val"),
    "coco": ("train", "train", "val"),
    "camvid": ("train", "test", "test"),
}

DESCRIPTIONS = {
    "msrc": "MSRC-v2 (591 real photos, 15 object classes)",
    "pascal": "PASCAL VOC 2012 + SBD",
    "coco": "MS COCO 2014",
    "camvid": "CamVid (real street scenes, 11 classes)",
    "synthetic": "generated VOC-format set (not PASCAL)",
}


def check_dataset(name: str) -> str:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}: expected one of {', '.join(DATASETS)}")
    return name


def episode_splits(dataset: str, test_split: str = "original") -> tuple[str, str]:
    """(training split, test split) of ``dataset``: the one rule every run and chapter uses.

    ``test_split="original"``: the original code's choice, test episodes from the training split
    (CamVid has its own test split). ``"val"``: the validation split, as later papers (PASCAL,
    COCO, the generated set); ValueError for MSRC, which has one split.
    """
    train, original, val = _SPLITS[check_dataset(dataset)]
    if test_split == "original":
        return train, original
    if test_split == "val":
        if val is None:
            raise ValueError(f"{dataset} has no val split: its episodes come from one split, {train!r}")
        return train, val
    raise ValueError(f"test_split must be 'original' or 'val', got {test_split!r}")


def open_source(dataset: str, root, split: str, **kwargs) -> Source:
    """Open one split of ``dataset`` (a name of :data:`DATASETS`) prepared in ``root``.

    Extra keyword arguments go to the source class (e.g. ``labels_only=True`` for VOCSource).
    """
    name = check_dataset(str(dataset).lower())
    if name in ("pascal", "synthetic"):
        return VOCSource(root, split, synthetic=(name == "synthetic"), **kwargs)
    return {"msrc": MSRCSource, "camvid": CamVidSource, "coco": COCOSource}[name](root, split, **kwargs)
