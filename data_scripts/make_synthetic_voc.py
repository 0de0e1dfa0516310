#!/usr/bin/env python
"""Generate the synthetic VOC-format few-shot dataset (NOT PASCAL VOC; see panet_min.data.synthetic).

    python data_scripts/make_synthetic_voc.py --root data/synthetic --seed 0 [--n-train 1000 --n-val 300 --size 256]

Writes DIR/VOCdevkit/VOC2012/ (JPEGImages, SegmentationClassAug, SegmentationObjectAug,
ScribbleAugAuto, ImageSets/Segmentation/{train,val,trainaug,trainval}.txt and the class-wise
lists {split}/class{c}.txt). Re-running with the same parameters returns at once.
"""
import argparse
import time

from panet_min.data.synthetic import make_synthetic_voc


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", required=True, help="output folder (VOCdevkit/VOC2012 is created inside)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-train", type=int, default=1000, help="images in train (= trainaug)")
    p.add_argument("--n-val", type=int, default=300, help="images in val")
    p.add_argument("--size", type=int, default=256, help="image side in pixels")
    p.add_argument("--workers", type=int, default=None, help="processes (default: up to 4 CPUs)")
    p.add_argument("--overwrite", action="store_true", help="regenerate even if the folder is complete")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    voc = make_synthetic_voc(a.root, seed=a.seed, n_train=a.n_train, n_val=a.n_val, size=a.size,
                             workers=a.workers, progress=True, overwrite=a.overwrite)
    size_mb = sum(f.stat().st_size for f in voc.rglob("*") if f.is_file()) / 1e6
    print(f"synthetic VOC-format set (not PASCAL) in {voc}: {a.n_train} train + {a.n_val} val images "
          f"of {a.size}x{a.size}, {size_mb:.1f} MB, {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
