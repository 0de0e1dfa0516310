"""Data for few-shot segmentation: folds, sources on disk (behind a registry), episodes, weak supports.

Typical use::

    from panet_min.data import (locate, episode_splits, open_source, fold_classes,
                                EpisodeDataset, episode_loader)
    where = locate("msrc", "data")               # prepared by `python -m panet_min.prepare msrc --root data`
    train_split, test_split = episode_splits(where.dataset)   # the original tests on its training split
    source = open_source(where.dataset, where.root, test_split)
    ds = EpisodeDataset(source, fold_classes(where.dataset, 0, train=False), shots=1, seed=1234 + run)
    batch = next(iter(episode_loader(ds, batch_size=2)))   # support_images [2,1,1,3,417,417], ...

Labels inside panet_min: 0 background, 1..C global class ids, 255 ignore.
"""

from .episodes import EpisodeDataset, collate_episodes, episode_loader
from .folds import (CAMVID_CLASSES, COCO_CLASSES, MSRC_CLASSES, MSRC_FOLDS, PASCAL_CLASSES,
                    class_names, fold_classes, held_out_classes, n_classes, n_folds)
from .locate import Located, locate
from .registry import DATASETS, episode_splits, open_source
from .sources import Source
from .msrc import MSRCSource
from .pascal5i import VOCSource
from .camvid import CamVidSource
from .coco20i import COCOSource
from .transforms import (IMAGENET_MEAN, IMAGENET_STD, denormalize, normalize, resize_image,
                         resize_mask, to_tensor_normalized)
from .weak import bbox_support, dense_support, dilate_scribble, resize_scribble, scribble_support

__all__ = [
    "EpisodeDataset", "collate_episodes", "episode_loader",
    "CAMVID_CLASSES", "COCO_CLASSES", "MSRC_CLASSES", "MSRC_FOLDS", "PASCAL_CLASSES", "class_names",
    "fold_classes", "held_out_classes", "n_classes", "n_folds",
    "DATASETS", "Located", "episode_splits", "locate",
    "Source", "open_source", "MSRCSource", "VOCSource", "CamVidSource", "COCOSource",
    "IMAGENET_MEAN", "IMAGENET_STD", "denormalize", "normalize", "resize_image", "resize_mask",
    "to_tensor_normalized",
    "bbox_support", "dense_support", "dilate_scribble", "resize_scribble", "scribble_support",
    "make_synthetic_voc",
]


def __getattr__(name):
    # The generator is only needed to make data, not to read it: import it on first use.
    if name == "make_synthetic_voc":
        from .synthetic import make_synthetic_voc
        return make_synthetic_voc
    raise AttributeError(f"module 'panet_min.data' has no attribute {name!r}")
