"""Run the cells of a grid: train (or resume), test, and keep what the book reads.

A cell is done when every file it should write exists, so a finished cell is skipped and a killed
one picks up where it stopped: a training from its last ``checkpoint.pt``, an evaluation from its
last finished run (:mod:`panet_min.counts`). What a cell leaves in ``results_dir/<cell>/``:

- ``config.json``, ``log.jsonl``: the training's config and log (copied from the run folder);
- ``<annotation>-<K>shot.json`` + ``.npz``: each test's results and per-episode counts;
- ``curve/step-NNNNN.json`` + ``.npz``: the kept checkpoints (and the final one) on the curve's test.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from ..checkpoint import read_json
from .grid import Cell, Grid, eval_config, test_name, train_config


def curve_steps(cell: Cell) -> list[int]:
    """The steps the curve evaluates: every ``keep_every`` before the end, and the end (step 0 is the
    untrained cell's)."""
    if cell.train is None:
        return [0] if cell.curve else []
    if not cell.curve:
        return []
    iters, keep = int(cell.train["iters"]), int(cell.train.get("keep_every", 0))
    return ([s for s in range(keep, iters, keep)] if keep else []) + [iters]


def planned(cell: Cell, grid: Grid) -> list[Path]:
    """Every file the cell writes under its results folder."""
    out = cell.results_dir(grid)
    files = [out / "config.json", out / "log.jsonl"] if cell.train is not None else []
    files += [out / f"{test_name(t)}.json" for t in cell.tests]
    files += [out / "curve" / f"step-{s:05d}.json" for s in curve_steps(cell)]
    return files


def status(cell: Cell, grid: Grid) -> str:
    """"done", "todo" or "partial" (some of its files written, or a training under way)."""
    files = planned(cell, grid)
    have = sum(f.is_file() for f in files)
    if have == len(files):
        return "done"
    return "partial" if have or (cell.run_dir(grid) / "checkpoint.pt").is_file() else "todo"


def _trained(run_dir: Path, iters: int) -> bool:
    log = run_dir / "log.jsonl"
    if not (run_dir / "checkpoint.pt").is_file() or not log.is_file():
        return False
    from ..viz.curves import read_log

    ends = [r for r in read_log(log) if r.get("event") == "end"]
    return bool(ends) and ends[-1].get("step") == iters


def train_cell(cell: Cell, grid: Grid) -> Path | None:
    """Train the cell's model, resuming a killed run; copy its config and log into the results."""
    from ..train import train

    config = train_config(cell, grid)
    if config is None:
        return None
    run_dir = cell.run_dir(grid)
    if not _trained(run_dir, config.iters):
        resume = (run_dir / "checkpoint.pt").is_file()
        if resume:
            saved = read_json(run_dir / "config.json", "the run's config")
            config.precision = saved.get("precision", config.precision)  # as it was resolved at the start
        train(config, resume=resume)
    out = cell.results_dir(grid)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "log.jsonl"):
        shutil.copyfile(run_dir / name, out / name)
    return run_dir / "checkpoint.pt"


def _evaluate_all(jobs: list[tuple]) -> None:
    """``jobs``: ``(EvalConfig, out)`` of one model's tests; the model (and its feature cache) is built
    once and shared by every test."""
    import torch

    from ..data import fold_classes
    from ..evaluate import build_for_evaluation, evaluate
    from ..runsetup import resolve_device

    jobs = [(cfg, out) for cfg, out in jobs if not out.is_file()]
    if not jobs:
        return
    first = jobs[0][0]
    device = resolve_device(first.device)
    torch.manual_seed(first.seed)
    built = build_for_evaluation(first, device, fold_classes(first.dataset, first.fold, train=False))
    for cfg, out in jobs:
        out.parent.mkdir(parents=True, exist_ok=True)
        evaluate(cfg, built=built)


def test_cell(cell: Cell, grid: Grid, checkpoint: Path | None) -> None:
    """The cell's tests on its final model, then its curve."""
    out = cell.results_dir(grid)
    _evaluate_all([(eval_config(cell, grid, t, checkpoint, out / f"{test_name(t)}.json"), out / f"{test_name(t)}.json")
                   for t in cell.tests])
    shots = (cell.train or {}).get("shots", 1)
    for step in curve_steps(cell):
        ckpt = None if cell.train is None else (checkpoint if step == int(cell.train["iters"])
                                                else cell.run_dir(grid) / f"step-{step:05d}.pt")
        target = out / "curve" / f"step-{step:05d}.json"
        _evaluate_all([(eval_config(cell, grid, {"shots": shots, "annotation": "mask", **cell.curve}, ckpt, target),
                        target)])


def run_cell(cell: Cell, grid: Grid) -> None:
    """Train (or resume) and test one cell; what is done already is skipped."""
    checkpoint = train_cell(cell, grid)
    test_cell(cell, grid, checkpoint)


__all__ = ["run_cell", "train_cell", "test_cell", "status", "planned", "curve_steps"]
