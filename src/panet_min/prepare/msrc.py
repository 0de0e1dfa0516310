"""Prepare MSRC-v2: the official zip (or a local copy), every file checked, labels decoded.

``python -m panet_min.prepare msrc --root DIR [--source ZIP_OR_FOLDER_OR_URL]``

1. The original files come from ``--source``: a zip, a folder holding the zip, the extracted
   ``MSRC_ObjCategImageDatabase_v2`` folder (or its parent), or a URL. Without it the official
   zip is downloaded (about 110 MB; resumable; ``PANET_MIN_MIRROR`` applies) into DIR/downloads.
2. Every photo and ground-truth map is checked against the sha256 manifest shipped in this package
   (``panet_min/data/msrc_sha256.txt``), so a download and a local copy verify the same way.
   The zip itself is not checked: copies of it differ in their container, not in their files.
3. Photos are copied unchanged; ground-truth colours become palette PNGs of global ids (255 void),
   see :mod:`panet_min.data.msrc`. The licence file travels with the data.

Licence: Microsoft Research Digital Image License Agreement: non-commercial use only (research,
teaching), provided "as is"; the prepared folder holds the licence text.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image

from ..data.classlists import save_label_png
from ..data.msrc import FOLDER, ORIGINAL, decode_ground_truth
from .download import download

URL = ("http://download.microsoft.com/download/3/3/9/339D8A24-47D7-412F-A1E8-1A415BC48A15/"
       "msrc_objcategimagedatabase_v2.zip")
ZIP_NAME = "msrc_objcategimagedatabase_v2.zip"
LICENCE = "MSR Cambridge EULA for Digital Images_download.rtf"
LICENCE_NOTE = ("MSRC-v2 is licensed for non-commercial use only (Microsoft Research Digital Image "
                "License Agreement), provided \"as is\"; see the licence file in the prepared folder.")
STAMP = "prepared.json"


def manifest() -> dict[str, str]:
    """{path relative to MSRC_ObjCategImageDatabase_v2/: sha256} of the original files."""
    text = resources.files("panet_min.data").joinpath("msrc_sha256.txt").read_text()
    return {path: digest for digest, path in (line.split("  ", 1) for line in text.splitlines() if line)}


def manifest_digest() -> str:
    """sha256 of the shipped manifest: the identity of the MSRC data every chapter prints."""
    data = resources.files("panet_min.data").joinpath("msrc_sha256.txt").read_bytes()
    return hashlib.sha256(data).hexdigest()


def used_files() -> dict[str, str]:
    """The manifest entries the few-shot source reads: Images/*.bmp and GroundTruth/*_GT.bmp."""
    return {p: d for p, d in manifest().items() if p.startswith(("Images/", "GroundTruth/"))}


class _Zip:
    def __init__(self, path: Path):
        try:
            self.zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as e:
            raise ValueError(f"{path} is not a readable zip ({e}); delete it and run the command again") from e
        self.names = {}
        for name in self.zf.namelist():
            # members may sit under MSRC_ObjCategImageDatabase_v2/ or at the top
            rel = name.split(f"{ORIGINAL}/", 1)[1] if f"{ORIGINAL}/" in name else name
            self.names[rel] = name
        self.where = str(path)

    def read(self, rel: str) -> bytes | None:
        name = self.names.get(rel)
        return None if name is None else self.zf.read(name)


class _Folder:
    def __init__(self, path: Path):
        self.base, self.where = path, str(path)

    def read(self, rel: str) -> bytes | None:
        p = self.base / rel
        return p.read_bytes() if p.is_file() else None


def _open_copy(source, downloads: Path):
    """The original files as an object with .read(rel) -> bytes | None and .where."""
    if source is None or "://" in str(source):
        url = URL if source is None else str(source)
        return _Zip(download(url, downloads / ZIP_NAME)), url
    path = Path(source).expanduser()
    if path.is_file():
        return _Zip(path), str(path)
    for folder in (path, path / ORIGINAL):
        if (folder / "GroundTruth").is_dir() and (folder / "Images").is_dir():
            return _Folder(folder), str(folder)
    if (path / ZIP_NAME).is_file():
        return _Zip(path / ZIP_NAME), str(path / ZIP_NAME)
    raise ValueError(f"--source {path}: neither the MSRC-v2 zip nor a folder holding it, nor an "
                     f"extracted {ORIGINAL} folder (with Images/ and GroundTruth/)")


def is_prepared(root) -> bool:
    """DIR/msrc was prepared, and against the manifest this package ships."""
    stamp = Path(root).expanduser() / FOLDER / STAMP
    try:
        return json.loads(stamp.read_text())["manifest_sha256"] == manifest_digest()
    except (OSError, ValueError, KeyError):
        return False


def prepare(root, source=None, force: bool = False, log=print) -> Path:
    """Prepare MSRC-v2 into ``root/msrc`` (see the module docstring); returns that folder.

    Already prepared (its stamp names this package's manifest) -> returns at once unless ``force``.
    A missing or altered file -> ValueError naming it, both digests and the fix; nothing that looks
    finished is left behind (the folder is built in ``msrc.partial`` and renamed when complete).
    """
    from tqdm.auto import tqdm

    root = Path(root).expanduser()
    out = root / FOLDER
    if is_prepared(root) and not force:
        log(f"MSRC-v2: prepared before in {out} (manifest {manifest_digest()[:12]})")
        return out
    log(LICENCE_NOTE)
    copy, where = _open_copy(source, root / "downloads")
    files = used_files()
    staging = root / (FOLDER + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "Images").mkdir(parents=True)
    (staging / "labels").mkdir()
    stems = []
    for rel, expected in tqdm(sorted(files.items()), desc="MSRC-v2: verify + convert", unit="file"):
        data = copy.read(rel)
        if data is None:
            shutil.rmtree(staging, ignore_errors=True)
            raise ValueError(f"MSRC-v2 file {rel} is missing from {where}; the copy is incomplete. "
                             "Use the official zip (run without --source to download it).")
        got = hashlib.sha256(data).hexdigest()
        if got != expected:
            shutil.rmtree(staging, ignore_errors=True)
            raise ValueError(f"MSRC-v2 file {rel} from {where} has sha256 {got}, expected {expected}: "
                             "the copy is damaged or altered. Delete it and run the command again "
                             "without --source to download the official zip.")
        name = Path(rel).name
        if rel.startswith("Images/"):
            (staging / "Images" / name).write_bytes(data)
            stems.append(Path(name).stem)
        else:
            import io

            with Image.open(io.BytesIO(data)) as im:
                rgb = np.asarray(im.convert("RGB"))
            save_label_png(decode_ground_truth(rgb, rel), staging / "labels" / (name[:-len("_GT.bmp")] + ".png"))
    licence = copy.read(LICENCE)
    if licence is not None:
        (staging / LICENCE).write_bytes(licence)
    (staging / "all.txt").write_text("\n".join(sorted(stems)) + "\n")
    (staging / STAMP).write_text(json.dumps({
        "dataset": "MSRC-v2 (MSRC_ObjCategImageDatabase_v2)", "images": len(stems),
        "manifest_sha256": manifest_digest(), "files_verified": len(files),
        "from": "the official zip" if source is None else "a local copy or a given URL",
        "licence": LICENCE_NOTE,
        "changed": "ground-truth colours decoded to label ids (PNG); photos unchanged"}, indent=1) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    staging.replace(out)
    log(f"MSRC-v2: {len(stems)} images verified ({len(files)} files, manifest "
        f"{manifest_digest()[:12]}) from {where}, prepared in {out}")
    return out
