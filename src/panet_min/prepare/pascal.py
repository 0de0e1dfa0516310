"""Prepare PASCAL VOC 2012 + SBD for PANet (PASCAL-5i):

    python -m panet_min.prepare pascal --root data/pascal [--source DIR_OR_URL] [--seed 0]
        [--workers N] [--no-scribbles] [--force]

Steps (each skipped when its marker in DIR/.prepare_pascal/ exists, so re-running resumes;
``--force`` removes the markers and runs every step again):
 1. download VOCtrainval_11-May-2012.tar and SBD's benchmark.tgz into DIR/downloads/ (resumed from
    NAME.part, md5-verified before being renamed; about 2 GB + 1.4 GB); ``--source`` names a
    folder or URL prefix holding both files under these names instead of the official servers;
 2. extract them safely (no member may leave DIR) to DIR/VOCdevkit/VOC2012 and DIR/SBD;
 3. SegmentationClassAug/SegmentationObjectAug (palette PNGs): VOC's own SegmentationClass /
    SegmentationObject where VOC has an annotation (it has the 255 borders), else SBD's
    cls/inst .mat (GTcls/GTinst.Segmentation; no borders) - as the original's conversion;
 4. ImageSets/Segmentation/trainaug.txt = (SBD train + SBD val + VOC train) - VOC val, sorted
    (10,582 ids), and the class-wise lists {train,val,trainval,trainaug}/class{c}.txt;
 5. ScribbleAugAuto (scribble robot, deterministic in --seed and the image id; the longest step:
    about 12k images, parallel over --workers processes).
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..data.classlists import build_class_lists, read_id_list, read_label, save_label_png, write_class_lists
from ..data.scribbles import scribble_folder
from . import source_url
from .download import download, run_steps, safe_extract

VOC_URL = "http://host.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar"
VOC_MD5 = "6cd6e144f989b92b3379bac3b3de84fd"
SBD_URL = "https://www2.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/semantic_contours/benchmark.tgz"
SBD_MD5 = "82b4d87ceb2ed10f6038a1cba92111cb"
SPLITS = ("train", "val", "trainval", "trainaug")
INFO_FILE = "panet_min_prepared.json"


def _find_dir(top: Path, marker: str) -> Path:
    """The folder under ``top`` (top included) that contains ``marker``."""
    for cand in [top, *sorted(p for p in top.rglob("*") if p.is_dir())]:
        if (cand / marker).exists():
            return cand
    raise ValueError(f"{top} has no folder containing {marker}: the archive does not have the expected layout")


def _extract_voc(tar: Path, root: Path) -> None:
    staging = safe_extract(tar, root / ".prepare_pascal" / "voc")
    voc = _find_dir(staging, "JPEGImages")
    if not (voc / "SegmentationClass").is_dir():
        raise ValueError(f"{tar} has no SegmentationClass folder: not the VOC 2012 trainval archive")
    target = root / "VOCdevkit" / "VOC2012"
    shutil.rmtree(root / "VOCdevkit", ignore_errors=True)  # a half-done earlier attempt
    target.parent.mkdir(parents=True)
    voc.replace(target)
    shutil.rmtree(staging)


def _extract_sbd(tgz: Path, root: Path) -> None:
    staging = safe_extract(tgz, root / ".prepare_pascal" / "sbd")
    dataset = _find_dir(staging, "cls")
    if not (dataset / "inst").is_dir() or not (dataset / "train.txt").is_file():
        raise ValueError(f"{tgz} has no inst/ or train.txt beside cls/: not SBD's benchmark.tgz")
    shutil.rmtree(root / "SBD", ignore_errors=True)
    dataset.replace(root / "SBD")
    shutil.rmtree(staging)


def load_sbd_mat(path: Path, key: str) -> np.ndarray:
    """uint8 [H,W] from an SBD .mat: ``key`` (GTcls or GTinst) -> .Segmentation."""
    from scipy.io import loadmat

    try:
        seg = loadmat(str(path))[key]["Segmentation"][0, 0]
    except Exception as e:  # noqa: BLE001 - any failure here means a damaged or foreign file
        raise ValueError(f"cannot read {key}.Segmentation from {path}: {e}") from e
    if seg.ndim != 2 or seg.min() < 0 or seg.max() > 255:
        raise ValueError(f"{path}: {key}.Segmentation must be a 2-D map of values 0..255")
    return seg.astype(np.uint8)


def convert_aug(voc: Path, sbd: Path, voc_sub: str, sbd_sub: str, key: str, out_sub: str,
                progress: bool = True) -> list[str]:
    """Write voc/out_sub/{id}.png for every id annotated by VOC (voc/voc_sub/{id}.png, copied
    index for index) or SBD (sbd/sbd_sub/{id}.mat); VOC wins where both exist. Files are written
    into out_sub.partial (resumable) and the folder renamed when complete. Returns the ids."""
    voc_ids = {p.stem for p in (voc / voc_sub).glob("*.png")}
    sbd_ids = {p.stem for p in (sbd / sbd_sub).glob("*.mat")}
    ids = sorted(voc_ids | sbd_ids)
    partial = voc / f"{out_sub}.partial"
    partial.mkdir(exist_ok=True)
    for i in tqdm(ids, desc=out_sub, disable=not progress):
        out = partial / f"{i}.png"
        if out.is_file():
            continue
        if i in voc_ids:
            label = read_label(voc / voc_sub / f"{i}.png")
        else:
            label = load_sbd_mat(sbd / sbd_sub / f"{i}.mat", key)
        save_label_png(label, out)
    shutil.rmtree(voc / out_sub, ignore_errors=True)
    partial.replace(voc / out_sub)
    return ids


def write_split_lists(voc: Path, sbd: Path) -> dict[str, list[str]]:
    """train/val/trainval as VOC's; trainaug = (SBD train + SBD val + VOC train) - VOC val, sorted,
    restricted to ids with a SegmentationClassAug label. Writes {split}.txt and the class lists."""
    sets = voc / "ImageSets" / "Segmentation"
    split_ids = {s: read_id_list(sets / f"{s}.txt") for s in ("train", "val")}
    trainval = sets / "trainval.txt"
    split_ids["trainval"] = read_id_list(trainval) if trainval.is_file() else split_ids["train"] + split_ids["val"]
    labelled = {p.stem for p in (voc / "SegmentationClassAug").glob("*.png")}
    aug = set(read_id_list(sbd / "train.txt")) | set(read_id_list(sbd / "val.txt")) | set(split_ids["train"])
    split_ids["trainaug"] = sorted((aug - set(split_ids["val"])) & labelled)
    (sets / "trainaug.txt").write_text("".join(f"{i}\n" for i in split_ids["trainaug"]))
    for split in SPLITS:
        write_class_lists(sets, split, build_class_lists(voc / "SegmentationClassAug", split_ids[split], 20))
    return split_ids


def prepare(root, source=None, force: bool = False, seed: int = 0, scribbles: bool = True,
            workers: int | None = None, voc_url: str = VOC_URL, voc_md5: str | None = VOC_MD5,
            sbd_url: str = SBD_URL, sbd_md5: str | None = SBD_MD5, fetch=None, progress: bool = True,
            log=print) -> Path:
    """Run every step not yet done (see the module docstring); return DIR/VOCdevkit/VOC2012.

    ``source`` (a folder or URL prefix holding both archives under their official names) replaces
    ``voc_url`` and ``sbd_url``; the md5s are checked all the same. ``force`` runs every step
    again (archives already downloaded are reused when their md5 matches). ``fetch(url,
    part_path, offset)`` replaces the HTTP download (tests). Bad archives, checksums or annotation
    files -> ValueError naming them.
    """
    root = Path(root).expanduser().resolve()
    state = root / ".prepare_pascal"
    if source is not None:
        voc_url, sbd_url = source_url(source, Path(VOC_URL).name), source_url(source, Path(SBD_URL).name)
    if force:
        for marker in state.glob("*.done"):
            marker.unlink()
    voc, sbd = root / "VOCdevkit" / "VOC2012", root / "SBD"
    workers = workers or os.cpu_count() or 1
    tar, tgz = root / "downloads" / Path(voc_url).name, root / "downloads" / Path(sbd_url).name
    steps = [
        # a download is needed only until its archive is extracted (the archives may be deleted then)
        ("extract_voc", lambda: _extract_voc(download(voc_url, tar, voc_md5, fetch), root)),
        ("extract_sbd", lambda: _extract_sbd(download(sbd_url, tgz, sbd_md5, fetch), root)),
        ("class_aug", lambda: convert_aug(voc, sbd, "SegmentationClass", "cls", "GTcls",
                                          "SegmentationClassAug", progress)),
        ("object_aug", lambda: convert_aug(voc, sbd, "SegmentationObject", "inst", "GTinst",
                                           "SegmentationObjectAug", progress)),
        ("lists", lambda: write_split_lists(voc, sbd)),
    ]
    if scribbles:
        def make_scribbles():
            ids = sorted({p.stem for p in (voc / "SegmentationClassAug").glob("*.png")})
            partial = voc / "ScribbleAugAuto.partial"
            scribble_folder(voc / "SegmentationClassAug", partial, ids, seed, workers, progress)
            shutil.rmtree(voc / "ScribbleAugAuto", ignore_errors=True)
            partial.replace(voc / "ScribbleAugAuto")
        steps.append((f"scribbles_seed{seed}", make_scribbles))
    run_steps(state, steps, log)
    counts = {s: len(read_id_list(voc / "ImageSets" / "Segmentation" / f"{s}.txt")) for s in SPLITS}
    (voc / INFO_FILE).write_text(json.dumps({"splits": counts, "scribble_seed": seed,
                                             "scribbles": scribbles}, indent=1) + "\n")
    return voc


def summary(voc) -> str:
    """One line: what :func:`prepare` made in ``voc`` (its split sizes)."""
    info = json.loads((Path(voc) / INFO_FILE).read_text())
    scr = f"scribbles seed {info['scribble_seed']}" if info["scribbles"] else "no scribbles"
    return (f"PASCAL VOC 2012 + SBD ready in {voc}: "
            + ", ".join(f"{k} {v}" for k, v in info["splits"].items()) + f"; {scr}")
