"""What training and evaluation set up the same way: device, data, progress bar and precision.

- :func:`resolve_device`: "auto" -> CUDA when available;
- :func:`default_split` / :func:`open_split`: which split episodes come from, and opening it;
- :func:`training_source`: the training split with the protocol options (strict, stuff as training);
- :func:`show_progress`: a tqdm bar only on an interactive terminal, never under CI (logs then get
  one line per log step instead of bar redraws);
- :func:`progress_bar`: a tqdm bar that follows that rule;
- :func:`precision_context` / :func:`precision_name`: bf16 autocast or plain fp32, and its name as
  results record it;
- :func:`run_command`: how both command lines report bad input (one line, exit status 2).
"""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import torch

from .config import DEVICES, TrainConfig
from .data.registry import episode_splits


def show_progress() -> bool:
    """True when stderr is a terminal and ``CI`` is not "true"/"1"."""
    return sys.stderr.isatty() and os.environ.get("CI", "").lower() not in ("true", "1")


def progress_bar(total: int | None = None, desc: str = "", unit: str = "it", enabled: bool = True, **kw):
    """``tqdm.auto.tqdm``, disabled unless ``enabled`` and :func:`show_progress`."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not (enabled and show_progress()), **kw)


def precision_context(device: torch.device, amp: bool):
    """bf16 autocast on ``device`` when ``amp``, else a no-op context (fp32)."""
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16) if amp else contextlib.nullcontext()


def precision_name(amp: bool) -> str:
    """"bf16" (autocast; PANet's head still runs in fp32, see :class:`panet_min.model.PANet`) or "fp32"."""
    return "bf16" if amp else "fp32"


def resolve_device(name: str) -> torch.device:
    """"auto" -> CUDA when available, else CPU; "cuda" without a GPU -> ValueError."""
    if name not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}; got {name!r}")
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


def run_command(prog: str, body) -> int:
    """Run ``body()`` for the command line ``prog``; returns the exit status.

    A ValueError is bad input whose message names the problem and the fix: it is printed as one
    line ``PROG: error: MESSAGE`` on stderr, without a traceback, and the status is 2 (argparse's).
    """
    try:
        body()
    except ValueError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    return 0
