"""Run settings: the configs of training and evaluation, their command-line flags, device and data.

``TrainConfig`` and ``EvalConfig`` hold every knob of :mod:`panet_min.train` and
:mod:`panet_min.evaluate`; their defaults are the original protocol. A config
round-trips through JSON (``to_dict`` / ``from_dict``) and is saved with every
run and every result, so a number can always be traced to the settings that
made it. Files, checkpoints and RNG states: :mod:`panet_min.checkpoint`.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .data.episodes import ANNOTATIONS
from .data.registry import DATASETS, episode_splits

BACKBONES = ("vgg16", "small")
DEVICES = ("auto", "cpu", "cuda")
# The command-line flags that take one of a few values (both CLIs).
CHOICES = {"dataset": DATASETS, "backbone": BACKBONES, "device": DEVICES, "annotation": ANNOTATIONS}


def _check_positive(cfg, names) -> None:
    for name in names:
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}")


class _Config:
    """JSON round-trip shared by both configs."""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict):
        """Build from a dict (e.g. a saved ``config.json``); unknown keys -> ValueError."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} field(s): {', '.join(unknown)}")
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str):
        return cls.from_dict(json.loads(text))


@dataclass
class _EpisodeConfig(_Config):
    """What both configs share: which data, which fold, and the episode shape (N-way K-shot, Q queries)."""
    dataset: str = "pascal"
    data_root: str | None = None
    fold: int = 0
    ways: int = 1
    shots: int = 1
    queries: int = 1


@dataclass
class TrainConfig(_EpisodeConfig):
    """Training settings; defaults = the original protocol (PANet's ``config.py``, mode train).

    ``data_root`` None: find the dataset with :func:`panet_min.data.locate` under ``data/``.
    ``weights`` None: ImageNet for VGG-16, random for the small backbone.
    ``device`` "auto": CUDA when available. ``out`` None: ``runs/<dataset>_fold<f>_<N>way_<K>shot``.
    ``train_split`` None: ``trainaug`` (VOC layout), ``train`` (COCO, CamVid).
    """
    iters: int = 30000
    image_size: int = 417
    backbone: str = "vgg16"
    weights: str | None = None
    device: str = "auto"
    seed: int = 1234
    out: str | None = None
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 5e-4
    milestones: list = field(default_factory=lambda: [10000, 20000])
    gamma: float = 0.1
    par_weight: float = 1.0
    alpha: float = 20.0
    episodes_per_step: int = 1
    amp: bool = False
    channels_last: bool = False
    compile: bool = False
    workers: int = 0
    checkpoint_every: int = 1000
    log_every: int = 100
    proto_dist_every: int = 500
    train_split: str | None = None
    strict: bool = False
    stuff_as_training: bool = False

    def __post_init__(self):
        _check_choice("dataset", self.dataset, DATASETS)
        if self.stuff_as_training and self.dataset != "msrc":
            raise ValueError("stuff_as_training is defined for msrc only")
        _check_choice("backbone", self.backbone, BACKBONES)
        _check_choice("device", self.device, DEVICES)
        _check_positive(self, ("ways", "shots", "queries", "iters", "image_size", "episodes_per_step",
                               "checkpoint_every", "log_every", "proto_dist_every"))
        if self.weights is None:
            self.weights = "imagenet" if self.backbone == "vgg16" else "none"
        for name in ("fold", "workers", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        for name in ("lr", "par_weight", "alpha", "weight_decay", "momentum", "gamma"):
            if not float(getattr(self, name)) >= 0:
                raise ValueError(f"{name} must be a non-negative number, got {getattr(self, name)!r}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        self.milestones = [int(m) for m in self.milestones]


@dataclass
class EvalConfig(_EpisodeConfig):
    """Evaluation settings; defaults = the original protocol (``config.py``, mode test).

    ``runs`` x ``episodes`` episodes, run r seeded with ``seed + r``. ``split`` None: the original's
    choice (``trainaug`` for VOC layout, ``train`` for COCO; CamVid: ``test``). Give either
    ``checkpoint`` (a ``checkpoint.pt`` of :mod:`panet_min.train`, or a plain state dict) or
    ``no_train=True`` (ImageNet initialisation only, the original's "notrain"). ``backbone`` None:
    the checkpoint's, else VGG-16. ``alpha`` None: the checkpoint's cosine scale, else 20.
    ``out`` None: ``results/<auto name>.json``.
    """
    runs: int = 5
    episodes: int = 1000
    seed: int = 1234
    split: str | None = None
    annotation: str = "mask"
    checkpoint: str | None = None
    no_train: bool = False
    image_size: int = 417
    backbone: str | None = None
    weights: str | None = None
    alpha: float | None = None
    batch_size: int = 1
    amp: bool = False
    channels_last: bool = False
    device: str = "auto"
    workers: int = 0
    out: str | None = None
    scribble_antialias: bool = False
    scribble_dilation: int = 0

    def __post_init__(self):
        _check_choice("dataset", self.dataset, DATASETS)
        _check_choice("annotation", self.annotation, ANNOTATIONS)
        _check_choice("device", self.device, DEVICES)
        if self.backbone is not None:
            _check_choice("backbone", self.backbone, BACKBONES)
        _check_positive(self, ("ways", "shots", "queries", "runs", "episodes", "image_size", "batch_size"))
        for name in ("fold", "workers", "seed", "scribble_dilation"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if self.checkpoint is not None and self.no_train:
            raise ValueError("give either --checkpoint PATH or --no-train, not both")


def add_config_arguments(parser, cls, help: dict) -> None:
    """One ``--flag-name`` per field of the dataclass ``cls`` (bool fields: a switch; the fields
    in ``CHOICES`` accept only their listed values).

    Defaults are suppressed, so ``vars(parser.parse_args())`` holds only the flags given
    (a resumed run tells which settings the user asked to change).
    """
    import argparse

    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        text = help.get(f.name, "")
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if "default" not in text and default not in (None, False):
            text = f"{text} (default: {','.join(map(str, default)) if isinstance(default, list) else default})"
        kw = {"default": argparse.SUPPRESS, "help": text.strip()}
        kind = str(f.type)
        if kind == "bool":
            parser.add_argument(flag, action="store_true", **kw)
            continue
        if kind == "list":
            kw["type"] = lambda s: [int(x) for x in s.split(",") if x.strip()]
            kw["metavar"] = "N,N,..."
        else:
            kw["type"] = {"int": int, "float": float}.get(kind.split(" ")[0], str)
        if f.name in CHOICES:
            kw["choices"] = CHOICES[f.name]
        parser.add_argument(flag, **kw)


# ---------------------------------------------------------------------------------------------
# Devices and data

def resolve_device(name: str) -> torch.device:
    """"auto" -> CUDA when available, else CPU; "cuda" without a GPU -> ValueError."""
    _check_choice("device", name, DEVICES)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but torch sees no CUDA GPU; use --device cpu")
    return torch.device(name)


def open_split(dataset: str, data_root, split: str):
    """Open one split of a dataset: ``(source, description, name)``.

    ``data_root`` None: ``data/``. It may be the folder holding ``<dataset>/`` or the dataset's own
    folder (:func:`panet_min.data.locate`). A generated VOC-format folder opened as "pascal" is
    recorded as "synthetic". Missing data -> ValueError naming the command that prepares it.
    """
    from .checkpoint import portable_path
    from .data import locate, open_source
    from .data.pascal5i import voc_base

    root = Path("data" if data_root is None else data_root).expanduser()
    if dataset == "pascal" and (voc_base(root) / "synthetic.json").is_file():
        dataset = "synthetic"  # a generated root read as pascal: say so in every result
    where = locate(dataset, root)
    description = where.description.split(", prepared in")[0] + f" at {portable_path(where.root)}"
    return open_source(where.dataset, where.root, split), description, where.dataset


def training_source(config: "TrainConfig"):
    """The source training episodes come from, and its classes: ``(source, classes, description)``.

    ``config.strict`` drops every image holding a test class (the strict protocol; the original
    keeps them, with the test class as background); ``stuff_as_training`` adds MSRC's stuff classes.
    """
    from .data import fold_classes

    split = config.train_split or default_split(config.dataset, train=True)
    source, description, _ = open_split(config.dataset, config.data_root, split)
    classes = fold_classes(config.dataset, config.fold, train=True,
                           stuff_as_training=config.stuff_as_training)
    if config.strict:
        before = len(source.ids)
        source.drop_images_with(fold_classes(config.dataset, config.fold, train=False))
        description += f"; strict: {len(source.ids)} of {before} images (those with a test class dropped)"
    return source, classes, description


def default_split(dataset: str, train: bool) -> str:
    """The original's splits (:func:`panet_min.data.episode_splits`): the training split, or the
    split test episodes come from."""
    return episode_splits(dataset)[0 if train else 1]
