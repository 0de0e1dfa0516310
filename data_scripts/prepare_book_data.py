#!/usr/bin/env python
"""Prepare the data the book's chapters use by default, and say which one it is:

    python data_scripts/prepare_book_data.py --root data [--no-download]

1. CamVid already prepared in DIR/camvid: nothing to do;
2. else a local CamVid copy ($PANET_MIN_SHARED_DATA/camvid, or ../shared/data/camvid beside the
   repository): copied into DIR/camvid (a few seconds);
3. else CamVid downloaded from the SegNet tutorial repository into DIR/camvid (about 180 MB);
4. else (no internet, or --no-download) the generated VOC-format set in DIR/synthetic (not real
   data; about a minute).
The last line printed names the data used. Re-running is fast: finished folders are recognised.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # prepare_camvid beside this script


def local_camvid() -> Path | None:
    """$PANET_MIN_SHARED_DATA/camvid, else <repo>/../shared/data/camvid, if it has train.txt."""
    env = os.environ.get("PANET_MIN_SHARED_DATA")
    for base in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if (base / "camvid" / "train.txt").is_file():
            return base / "camvid"
    return None


def prepare_book_data(root, download: bool = True, log=print) -> tuple[str, Path]:
    """Run the first option that works (see the module docstring); returns (kind, folder) with
    kind "camvid" or "synthetic", and logs one line saying what was used."""
    root = Path(root).expanduser()
    camvid = root / "camvid"
    if (camvid / ".prepare_camvid.json").is_file():  # checked before importing torch: instant
        log(f"data: CamVid, prepared before in {camvid}")
        return "camvid", camvid
    from prepare_camvid import prepare_camvid
    source = local_camvid()
    if source is not None:
        prepare_camvid(camvid, source=source)
        log(f"data: CamVid, copied from the local copy {source} into {camvid}")
        return "camvid", camvid
    if download:
        try:
            info = prepare_camvid(camvid)
            log(f"data: CamVid, downloaded ({info['source']}) into {camvid}")
            return "camvid", camvid
        except (OSError, ValueError) as e:  # no internet, or a broken download: fall back
            log(f"CamVid download failed ({e}); falling back to the generated set")
    from panet_min.data.synthetic import make_synthetic_voc

    voc = make_synthetic_voc(root / "synthetic", seed=0, progress=True)
    log(f"data: generated VOC-format set (not real data) in {voc}")
    return "synthetic", root / "synthetic"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default="data", help="data folder (default: data)")
    p.add_argument("--no-download", action="store_true", help="never try the internet")
    a = p.parse_args(argv)
    prepare_book_data(a.root, download=not a.no_download)


if __name__ == "__main__":
    main()
