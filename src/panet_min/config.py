"""Run settings: the configs of training and evaluation and their command-line flags.

``TrainConfig`` and ``EvalConfig`` hold every knob of :mod:`panet_min.train` and
:mod:`panet_min.evaluate`; their defaults are the original protocol. A config
round-trips through JSON (``to_dict`` / ``from_dict``) and is saved with every
run and every result, so a number can always be traced to the settings that
made it. Each field carries its own help text, which is its ``--flag`` help. Device and data:
:mod:`panet_min.runsetup`; files, checkpoints and RNG states: :mod:`panet_min.checkpoint`.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field


from .data.episodes import ANNOTATIONS
from .data.registry import DATASETS

BACKBONES = ("vgg16", "small")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16")
# The command-line flags that take one of a few values (both CLIs).
CHOICES = {"dataset": DATASETS, "backbone": BACKBONES, "device": DEVICES, "annotation": ANNOTATIONS,
           "precision": PRECISIONS}


def _field(default, help: str):
    """A dataclass field whose ``help`` is its command-line help (a list default is copied per instance)."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


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
    dataset: str = _field("pascal", "the dataset (msrc is the book's; a generated VOC-format root "
                                    "also works as pascal)")
    data_root: str | None = _field(None, "the dataset's folder (default: find it under data/, "
                                         "see panet_min.data.locate)")
    fold: int = _field(0, "class fold (PASCAL-5i / COCO-20i: 0-3, MSRC-5i: 0-2, CamVid: 0-1)")
    ways: int = _field(1, "N: classes per episode")
    shots: int = _field(1, "K: annotated supports per class")
    queries: int = _field(1, "Q: query images per episode")


@dataclass
class TrainConfig(_EpisodeConfig):
    """Training settings; defaults = the original protocol (PANet's ``config.py``, mode train).

    ``data_root`` None: find the dataset with :func:`panet_min.data.locate` under ``data/``.
    ``weights`` None: ImageNet for VGG-16, random for the small backbone.
    ``device`` "auto": CUDA when available. ``out`` None: ``runs/<dataset>_fold<f>_<N>way_<K>shot``.
    ``train_split`` None: ``trainaug`` (VOC layout), ``train`` (COCO, CamVid), ``all`` (MSRC).
    The help text of each field is its command-line help (``--field-name``).
    """
    iters: int = _field(30000, "training steps")
    image_size: int = _field(417, "square input size (pixels)")
    backbone: str = _field("vgg16", "vgg16 (the paper's) | small (CPU demos)")
    weights: str | None = _field(None, "imagenet | torchvision | none | PATH (default: imagenet for vgg16, "
                                       "none for small)")
    device: str = _field("auto", "auto (CUDA, else Apple MPS, else CPU) | cpu | cuda | mps")
    seed: int = _field(1234, "seed of the episodes and of every random number")
    out: str | None = _field(None, "run folder (default runs/<auto>)")
    lr: float = _field(1e-3, "SGD learning rate")
    momentum: float = _field(0.9, "SGD momentum")
    weight_decay: float = _field(5e-4, "SGD weight decay (on every parameter, as the original)")
    milestones: list | None = _field(None, "steps after which lr is multiplied by --gamma (default: 1/3 and "
                                           "2/3 of --iters, the original's 10000,20000 of 30000)")
    gamma: float = _field(0.1, "lr factor at each milestone")
    warmup: int = _field(0, "steps of linear learning-rate warm-up from lr/warmup to lr (0: none, as the "
                            "original)")
    clip_grad: float = _field(0.0, "clip the gradient's total L2 norm to this before each SGD step (0: no "
                                   "clipping, as the original)")
    par_weight: float = _field(1.0, "lambda of the PAR loss (0: no PAR)")
    alpha: float = _field(20.0, "cosine scale")
    episodes_per_step: int = _field(1, "episodes per optimizer step (1 = the original)")
    precision: str = _field("auto", "auto (bf16 autocast + channels-last on CUDA and on a CPU with native "
                                    "bf16, AMX or AVX512-BF16; fp32 elsewhere) | fp32 | bf16")
    amp: bool = _field(False, "bf16 autocast (the same as --precision bf16)")
    channels_last: bool = _field(False, "channels-last memory format (implied by bf16)")
    compile: bool = _field(False, "torch.compile the encoder")
    workers: int = _field(0, "data loader processes")
    checkpoint_every: int = _field(1000, "write RUN_DIR/checkpoint.pt every N steps (resume from it)")
    keep_every: int = _field(0, "also keep the weights at every N steps as RUN_DIR/step-NNNNN.pt "
                                "(0: never), to evaluate a training curve")
    log_every: int = _field(100, "write a log line every N steps (the only host sync)")
    proto_dist_every: int = _field(500, "log the support-query prototype distance every M steps")
    train_split: str | None = _field(None, "split to draw episodes from (trainaug for VOC layout, train for "
                                           "COCO/CamVid, all for MSRC)")
    strict: bool = _field(False, "drop every training image that holds a test class (the original keeps "
                                 "them, as background)")
    stuff_as_training: bool = _field(False, "MSRC only: add building, grass, tree, sky and water to the "
                                            "training classes (the leak ablation)")

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
        for name in ("fold", "workers", "seed", "keep_every", "warmup"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        for name in ("lr", "par_weight", "alpha", "weight_decay", "momentum", "gamma", "clip_grad"):
            if not float(getattr(self, name)) >= 0:
                raise ValueError(f"{name} must be a non-negative number, got {getattr(self, name)!r}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        _check_choice("precision", self.precision, PRECISIONS)
        if self.milestones is None:  # the schedule's thirds, as the original's 10k/20k of 30k
            self.milestones = [round(self.iters / 3), round(2 * self.iters / 3)]
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
    runs: int = _field(5, "runs, run r seeded with seed + r")
    episodes: int = _field(1000, "episodes per run")
    seed: int = _field(1234, "seed of run 0")
    split: str | None = _field(None, "test split (default: trainaug for VOC layout as the original, train "
                                     "for COCO, test for CamVid, all for MSRC; or val)")
    annotation: str = _field("mask", "support annotation: mask | scribble | bbox")
    checkpoint: str | None = _field(None, "checkpoint.pt of panet_min.train (or a state dict)")
    no_train: bool = _field(False, "ImageNet initialisation only (the original's notrain)")
    image_size: int = _field(417, "square input size (pixels)")
    backbone: str | None = _field(None, "vgg16 | small (default: the checkpoint's, else vgg16)")
    weights: str | None = _field(None, "with --no-train: imagenet | torchvision | none | PATH "
                                       "(default: imagenet for vgg16)")
    alpha: float | None = _field(None, "cosine scale (default: the checkpoint's, else 20)")
    batch_size: int = _field(1, "episodes per forward pass")
    precision: str = _field("auto", "auto (bf16 autocast + channels-last on CUDA and on a CPU with native "
                                    "bf16, AMX or AVX512-BF16; fp32 elsewhere) | fp32 | bf16")
    amp: bool = _field(False, "bf16 autocast (the same as --precision bf16)")
    channels_last: bool = _field(False, "channels-last memory format (implied by bf16)")
    device: str = _field("auto", "auto (CUDA, else Apple MPS, else CPU) | cpu | cuda | mps")
    workers: int = _field(0, "data loader processes")
    out: str | None = _field(None, "results JSON (default results/<auto>.json)")
    scribble_antialias: bool = _field(False, "the original's antialiased scribble resize")
    scribble_seed: int = _field(0, "seed of the scribble robot, for datasets whose scribbles it draws (MSRC)")
    allow_class_overlap: bool = _field(False, "score a checkpoint on classes it was trained on (refused "
                                              "otherwise; recorded in the results)")
    prototype_distance: bool = _field(False, "also measure, per episode, the distance between each way's "
                                             "support prototype and the query's own (Euclidean and cosine)")
    scribble_dilation: int = _field(0, "the original's minimum filter on scribbles (pixels)")
    cache_features: bool = _field(False, "encode each distinct image once (same numbers: the model is in "
                                         "eval mode; memory grows with the distinct images, ~2 MB each at "
                                         "241 px)")
    visualize: str | None = _field(None, "write one PNG per episode of run 0 into this folder: support "
                                         "with mask, query with truth and prediction, the episode's IoU")
    visualize_count: int = _field(20, "episodes drawn by --visualize")

    def __post_init__(self):
        _check_choice("dataset", self.dataset, DATASETS)
        _check_choice("annotation", self.annotation, ANNOTATIONS)
        _check_choice("device", self.device, DEVICES)
        _check_choice("precision", self.precision, PRECISIONS)
        if self.backbone is not None:
            _check_choice("backbone", self.backbone, BACKBONES)
        _check_positive(self, ("ways", "shots", "queries", "runs", "episodes", "image_size", "batch_size",
                               "visualize_count"))
        for name in ("fold", "workers", "seed", "scribble_dilation", "scribble_seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if self.checkpoint is not None and self.no_train:
            raise ValueError("give either --checkpoint PATH or --no-train, not both")


def add_config_arguments(parser, cls) -> None:
    """One ``--flag-name`` per field of the dataclass ``cls``, helped by the field's own ``help``
    (bool fields: a switch; the fields in ``CHOICES`` accept only their listed values).

    Defaults are suppressed, so ``vars(parser.parse_args())`` holds only the flags given
    (a resumed run tells which settings the user asked to change).
    """
    import argparse

    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        text = f.metadata.get("help", "")
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if "default" not in text and default not in (None, False):
            text = f"{text} (default: {','.join(map(str, default)) if isinstance(default, list) else default})"
        kw = {"default": argparse.SUPPRESS, "help": text.strip()}
        kind = str(f.type)
        if kind == "bool":
            parser.add_argument(flag, action="store_true", **kw)
            continue
        if kind.startswith("list"):
            kw["type"] = lambda s: [int(x) for x in s.split(",") if x.strip()]
            kw["metavar"] = "N,N,..."
        else:
            kw["type"] = {"int": int, "float": float}.get(kind.split(" ")[0], str)
        if f.name in CHOICES:
            kw["choices"] = CHOICES[f.name]
        parser.add_argument(flag, **kw)
