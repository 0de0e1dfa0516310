#!/usr/bin/env python
"""Prepare MS COCO 2014 for COCO-20i as PANet splits it:

    python -m panet_min.prepare coco --root data/coco [--source DIR_OR_URL] [--force]

Downloads train2014.zip (13 GB), val2014.zip (6 GB) and annotations_trainval2014.zip from
images.cocodataset.org, or from ``--source`` (a folder or URL prefix holding the three zips under
these names) (resumable, NAME.part until complete; COCO publishes no checksums, so every zip
member's CRC-32 is checked when it is extracted), extracts them safely, and writes

    annotations/instances_{train,val}2014.json, train2014/*.jpg, val2014/*.jpg   (COCO's layout)
    lists/{train,val}/class{c}.txt   image ids holding category c (c = 1..80, the contiguous index
                                     in COCO's category order, as pycocotools' getImgIds)
    lists/folds.json                 COCO-20i of PANet: fold i tests classes 20i+1..20i+20
                                     (consecutive in COCO's order - NOT the "every 4th class"
                                     split of later papers), trains on the other 60

Each step is skipped when its marker in DIR/.prepare_coco/ exists, so re-running resumes;
``--force`` removes the markers and runs every step again.
"""
from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

from ..data.classlists import write_class_lists
from . import source_url
from .download import download, run_steps, safe_extract

COCO_URLS = {
    "annotations": "http://images.cocodataset.org/annotations/annotations_trainval2014.zip",
    "train2014": "http://images.cocodataset.org/zips/train2014.zip",
    "val2014": "http://images.cocodataset.org/zips/val2014.zip",
}
N_CLASSES, N_FOLDS = 80, 4


def _extract_into(archive: Path, root: Path, folder: str) -> None:
    """Extract ``archive`` (whose top folder is ``folder``) and move that folder to root/folder."""
    staging = safe_extract(archive, root / ".prepare_coco" / folder)
    found = staging / folder
    if not found.is_dir():
        raise ValueError(f"{archive} has no top folder {folder}/: not the COCO 2014 archive expected")
    shutil.rmtree(root / folder, ignore_errors=True)
    found.replace(root / folder)
    shutil.rmtree(staging)


def coco_class_lists(ann_file: Path) -> tuple[list[dict], dict[int, list[str]]]:
    """(categories in COCO order, {c: sorted image ids (str) with an annotation of category c}),
    c = 1..80 the index in COCO's category order (category ids have gaps: 12, 26, 29, ...)."""
    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(ann_file))
    cats = [coco.cats[i] for i in sorted(coco.getCatIds())]
    if len(cats) != N_CLASSES:
        raise ValueError(f"{ann_file} has {len(cats)} categories; COCO 2014 has {N_CLASSES}")
    lists = {c: [str(i) for i in sorted(coco.getImgIds(catIds=[cat["id"]]))] for c, cat in enumerate(cats, 1)}
    return cats, lists


def write_lists(root: Path) -> dict:
    """lists/{train,val}/class{c}.txt and lists/folds.json; returns the folds description."""
    folds = None
    for split in ("train", "val"):
        cats, lists = coco_class_lists(root / "annotations" / f"instances_{split}2014.json")
        write_class_lists(root / "lists", split, lists)
        per = N_CLASSES // N_FOLDS
        folds = {"split": "COCO-20i as PANet: fold i tests the classes 20i+1..20i+20 in COCO's order",
                 "folds": [{"fold": f, "test_classes": list(range(per * f + 1, per * f + per + 1)),
                            "test_category_ids": [c["id"] for c in cats[per * f:per * f + per]],
                            "test_names": [c["name"] for c in cats[per * f:per * f + per]]}
                           for f in range(N_FOLDS)]}
    (root / "lists" / "folds.json").write_text(json.dumps(folds, indent=1) + "\n")
    return folds


def prepare(root, source=None, force: bool = False, urls: dict | None = None, fetch=None,
            log=print) -> Path:
    """Run every step not done yet (see the module docstring); return ``root``.

    ``source``: a folder or URL prefix holding the three zips (their names in :data:`COCO_URLS`);
    ``urls`` overrides single URLs ({"annotations" | "train2014" | "val2014": url}); ``force``
    runs every step again (zips already downloaded are reused); ``fetch`` replaces the HTTP
    download (tests).
    """
    root = Path(root).expanduser().resolve()
    base = dict(COCO_URLS)
    if source is not None:
        base = {k: source_url(source, Path(u).name) for k, u in COCO_URLS.items()}
    urls = {**base, **(urls or {})}
    state = root / ".prepare_coco"
    if force:
        for marker in state.glob("*.done"):
            marker.unlink()
    steps = []
    for folder, url in urls.items():
        archive = root / "downloads" / Path(url).name
        steps.append((f"extract_{folder}",
                      lambda url=url, archive=archive, folder=folder:
                      _extract_into(download(url, archive, None, fetch), root, folder)))
    steps.append(("lists", lambda: write_lists(root)))
    run_steps(state, steps, log)
    return root


def summary(root) -> str:
    """One line: what :func:`prepare` made in ``root``."""
    n = {s: len(list((Path(root) / f"{s}2014").glob("*.jpg"))) for s in ("train", "val")}
    return (f"COCO 2014 ready in {root}: train2014 {n['train']} images, val2014 {n['val']} images; "
            f"class lists and COCO-20i folds in {Path(root) / 'lists'}")
