"""The grid's training logs: every trained cell's config and log, when a training is stuck, and the
held-out curves at the kept checkpoints (book chapters 7 and 10b)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..checkpoint import read_json
from ..report import train_seed
from ..schema import validate_results
from .grid import Entry, book_grid_dir, setting

@dataclass
class Run:
    """One trained cell of the grid: its fold, setting, training seed, training config and log."""
    cell: str
    fold: int
    setting: str
    seed: int
    config: dict
    log: list


def training_runs(results_dir=None) -> list[Run]:
    """Every trained cell's config and ``log.jsonl`` (sorted by fold, setting, seed)."""
    from ..viz.curves import read_log

    root = book_grid_dir() if results_dir is None else Path(results_dir)
    runs = []
    for cfg_path in sorted(root.glob("*/config.json")):
        cfg = read_json(cfg_path, "training config")
        log = cfg_path.with_name("log.jsonl")
        if not log.is_file():
            continue
        fake = {"model": {"trained": True, "par_weight": cfg["par_weight"], "trained_config": cfg}}
        runs.append(Run(cfg_path.parent.name, int(cfg["fold"]), setting(fake), int(cfg["seed"]), cfg, read_log(log)))
    return sorted(runs, key=lambda r: (r.fold, r.setting, r.seed))


# A training is stuck while its query loss, averaged over 50 steps (5 log lines of 10 steps), is at or
# above 0.55 (80 % of ln 2, the loss of a model that says 50 % everywhere) after its first 100 steps.
STUCK_LOSS, STUCK_WINDOW, STUCK_AFTER = 0.55, 5, 100


def smoothed_loss(run: Run) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, query loss)`` of a training's log, the loss as a moving average of STUCK_WINDOW lines."""
    from ..viz.curves import moving_average, series

    steps, loss = series(run.log, "query_loss")
    return steps, moving_average(loss, STUCK_WINDOW)


def stuck_steps(run: Run) -> int:
    """Steps after the first STUCK_AFTER spent with the smoothed query loss at or above STUCK_LOSS."""
    steps, smooth = smoothed_loss(run)
    every = int(steps[1] - steps[0]) if len(steps) > 1 else 10
    return int(((smooth >= STUCK_LOSS) & (steps > STUCK_AFTER)).sum() * every)


def peak_loss(run: Run) -> float:
    """The highest smoothed query loss after the first STUCK_AFTER steps."""
    steps, smooth = smoothed_loss(run)
    return float(smooth[steps > STUCK_AFTER].max())


def curves(results_dir=None) -> dict[str, list[dict]]:
    """``{cell: [{"step", "mean_iou", "euclidean", "cosine", "entry"}]}`` from each cell's
    ``curve/step-NNNNN.json`` (held-out episodes at the kept checkpoints), step 0 taken from the
    fold's untrained cell; sorted by step."""
    root = book_grid_dir() if results_dir is None else Path(results_dir)
    out: dict[str, list[dict]] = {}
    for path in sorted(root.glob("*/curve/step-*.json")):
        r = validate_results(read_json(path, "results file"))
        dist = r.get("prototype_distance", {})
        out.setdefault(path.parent.parent.name, []).append(
            {"step": int(path.stem.split("-")[1]), "mean_iou": r["mean_iou"]["mean"], "fold": r["data"]["fold"],
             "euclidean": dist.get("euclidean"), "cosine": dist.get("cosine"),
             "entry": Entry(path.parent.parent.name, train_seed(r), r, path)})
    for cell, points in list(out.items()):
        if not cell.endswith("notrain"):
            base = out.get(f"f{points[0]['fold']}-notrain", [])
            points += [p for p in base if p["step"] == 0]
        points.sort(key=lambda p: p["step"])
    return out
