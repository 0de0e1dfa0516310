"""What training and evaluation set up the same way: device, data, progress bar and precision.

- :func:`resolve_device`: "auto" -> CUDA when available;
- :func:`default_split` / :func:`open_split`: which split episodes come from, and opening it;
- :func:`training_source`: the training split with the protocol options (strict, stuff as training);
- :func:`show_progress`: a tqdm bar only on an interactive terminal, never under CI (logs then get
  one line per log step instead of bar redraws);
- :func:`progress_bar`: a tqdm bar that follows that rule;
- :func:`resolve_precision`: "auto" -> bf16 (autocast + channels_last) on CUDA and on a CPU with
  native bf16 (:func:`native_bf16_cpu`), fp32 otherwise; :func:`precision_context` enters it;
- :func:`machine`: the processor (or GPU) and its bf16 support, as every result records them;
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


def progress_bar(total: int | None = None, desc: str = "", unit: str = "it", enabled: bool = True,
                 force: bool = False, **kw):
    """``tqdm.auto.tqdm``, disabled unless ``enabled`` and :func:`show_progress` (or ``force``: a
    notebook, whose output is no terminal, asks for its bar)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not (enabled and (force or show_progress())), **kw)


def precision_context(device: torch.device, precision: str | bool):
    """bf16 autocast on ``device`` when ``precision`` is "bf16" (or True), else a no-op context (fp32)."""
    bf16 = precision is True or precision == "bf16"
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def cpu_flags() -> set[str]:
    """The CPU's feature flags (``/proc/cpuinfo``; empty where that file does not exist)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return set(line.split(":", 1)[1].split())
    return set()


# Instructions that run bf16 matrix products natively (Intel AMX, AVX512-BF16 on Intel and AMD).
NATIVE_BF16 = ("amx_bf16", "avx512_bf16")


def native_bf16_cpu() -> bool:
    """True when the CPU multiplies bf16 natively (:data:`NATIVE_BF16`); elsewhere bf16 is emulated
    and usually slower than fp32."""
    return any(flag in cpu_flags() for flag in NATIVE_BF16)


def cpu_model() -> str:
    """The processor's model name (``/proc/cpuinfo``), else what :mod:`platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def machine(device: torch.device) -> dict:
    """What a result records of the machine: ``{"device", "cpu", "cpu_bf16"}`` (GPU name or "cpu";
    the processor's model; its native bf16 flags)."""
    device = torch.device(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    return {"device": name, "cpu": cpu_model(), "cpu_bf16": [f for f in NATIVE_BF16 if f in cpu_flags()]}


PRECISIONS = ("auto", "fp32", "bf16")


def resolve_precision(precision: str, device: torch.device, amp: bool = False) -> str:
    """"bf16" or "fp32". "auto": bf16 on CUDA and on a CPU with native bf16, fp32 elsewhere (MPS,
    older CPUs). ``amp`` (the older ``--amp`` switch) asks for bf16. The model's head (pooling,
    cosine, PAR) stays in fp32 either way (:class:`panet_min.model.PANet`)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    if amp and precision != "fp32":
        return "bf16"
    if precision != "auto":
        return precision
    kind = torch.device(device).type
    return "bf16" if kind == "cuda" or (kind == "cpu" and native_bf16_cpu()) else "fp32"


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(name: str) -> torch.device:
    """"auto" -> CUDA, else Apple's MPS, else the CPU (the first torch reports available); a
    device asked for by name that torch does not see -> ValueError."""
    if name not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}; got {name!r}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but torch sees no CUDA GPU; use --device cpu")
    if name == "mps" and not _mps_available():
        raise ValueError("--device mps was asked for but torch sees no Apple GPU (MPS); use --device cpu")
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
