"""What training and evaluation set up the same way: the progress bar rule and the precision.

- :func:`show_progress`: a tqdm bar only on an interactive terminal, never under CI (logs then get
  one line per log step instead of bar redraws);
- :func:`progress_bar`: a tqdm bar that follows that rule;
- :func:`precision_context` / :func:`precision_name`: bf16 autocast or plain fp32, and its name as
  results record it.
"""
from __future__ import annotations

import contextlib
import os
import sys

import torch


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
