"""Find prepared data, and say which one it is.

``locate(dataset, data_root)`` looks in ``data_root/<dataset>`` (``data_root/pascal`` may hold
``VOCdevkit/VOC2012``). It never downloads nor generates anything: a dataset that is not there is a
ValueError naming the folder and the command that prepares it. The book's chapters use
:func:`panet_min.pinned.book_inputs`, which prepares the pinned data when it is missing.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .camvid import camvid_base
from .msrc import msrc_base
from .pascal5i import voc_base
from .registry import DATASETS, DESCRIPTIONS, check_dataset
from .sources import prepare_command


@dataclass(frozen=True)
class Located:
    """dataset: a name of ``registry.DATASETS`` (pass it to ``open_source``); root: the folder to
    open; description: which data this is, to print next to every result."""

    dataset: str
    root: Path
    description: str


def _ready(dataset: str, folder: Path) -> Path | None:
    """The folder to open when ``dataset`` is prepared in ``folder``, else None."""
    if dataset == "msrc":
        base = msrc_base(folder)
        return base if (base / "all.txt").is_file() and (base / "labels").is_dir() else None
    if dataset == "camvid":
        base = camvid_base(folder)
        need = ("train.txt", "test.txt", "train", "trainannot", "test", "testannot")
        return base if all((base / p).exists() for p in need) else None
    if dataset == "coco":
        return folder if (folder / "annotations").is_dir() else None
    base = voc_base(folder)
    need = ("JPEGImages", "SegmentationClassAug", "ImageSets/Segmentation/trainaug.txt")
    if not all((base / p).exists() for p in need):
        return None
    generated = (base / "synthetic.json").is_file()
    return base if generated == (dataset == "synthetic") else None


def locate(dataset: str = "msrc", data_root="data") -> Located:
    """``dataset`` prepared under ``data_root`` (its folder ``data_root/<dataset>``, or ``data_root``
    itself when that is the dataset's folder). Missing -> ValueError naming the prepare command."""
    check_dataset(dataset)
    data_root = Path(data_root).expanduser()
    for folder in (data_root / dataset, data_root):
        base = _ready(dataset, folder)
        if base is not None:
            return Located(dataset, base, f"{DESCRIPTIONS[dataset]}, prepared in {folder.name}/")
    raise ValueError(f"{DESCRIPTIONS[dataset]} is not prepared in {data_root / dataset}; prepare it "
                     f"with `{prepare_command(dataset, data_root)}`")


__all__ = ["DATASETS", "Located", "locate"]
