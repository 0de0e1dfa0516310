"""Figures of the book's evidence (chapters 7, 9, 10, 11): scores with every training seed shown,
training signals of the grid's runs, and held-out curves over training.

- :func:`plot_seed_bars`: one group of bars per fold (and the mean over folds), a bar per setting
  at the mean over training seeds, each seed a dot on it;
- :func:`plot_training_signals`: logged signals (loss, gradient norm, ...) of every run, one panel
  per signal, a line per run coloured by its setting;
- :func:`plot_curves`: held-out mean-IoU (or a prototype distance) at the kept checkpoints, mean
  over seeds as a line, each seed a dot.
"""
from __future__ import annotations

import numpy as np

from . import style
from .curves import moving_average, series


def _colour(setting: str, fallback: dict) -> str:
    base = setting.split(",")[0]
    return style.COLOURS.get(base) or fallback.setdefault(setting, style.OTHER[len(fallback) % len(style.OTHER)])


@style.drawn
def plot_seed_bars(table: dict, bars, metric: str = "mean_iou", title: str | None = None, ylabel=None):
    """``bars``: ``[(label, test, setting)]``, e.g. ``("trained", "mask-1shot", "trained")``. A group
    per fold of ``table`` (:func:`panet_min.evidence.grid_results`) plus the mean over folds; the bar
    is the mean over training seeds (%), each dot one seed (for the mean over folds: seed i's mean
    over the folds). Returns the figure."""
    import matplotlib.pyplot as plt

    folds = sorted({f for _, test, _ in bars for f in table.get(test, {})})
    groups = [f"fold {f}" for f in folds] + ["mean over folds"]
    fig, axes = style.figure(1, 1, panel_aspect=0.42)
    ax, width, other = axes[0, 0], 0.8 / len(bars), {}
    for j, (label, test, setting) in enumerate(bars):
        per_fold = [[e.score(metric) for e in table.get(test, {}).get(f, {}).get(setting, [])] for f in folds]
        n = {len(v) for v in per_fold}
        mean_over = list(np.mean(per_fold, axis=0)) if len(n) == 1 and 0 not in n else []
        # the book's colour of the setting ("trained", "no PAR", ...) unless two bars share a setting
        # (dense, scribble, box of one model): then each label its own colour
        distinct = len({b[2] for b in bars}) == len(bars)
        colour = _colour(setting if label is None or (distinct and setting.split(",")[0] in style.COLOURS)
                         else label, other)
        for g, values in enumerate(per_fold + [mean_over]):
            if not values:
                continue
            x = g + (j - (len(bars) - 1) / 2) * width
            ax.bar(x, 100 * np.mean(values), width * 0.92, color=colour, alpha=0.85,
                   label=label if g == 0 else None)
            ax.plot(np.full(len(values), x), 100 * np.asarray(values), "o", ms=3.5, mfc="white", mec="black",
                    mew=0.8, zorder=3)
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylabel(ylabel or ("mean-IoU (%)" if metric == "mean_iou" else "binary IoU (%)"))
    if title:
        ax.set_title(title)
    ax.legend(loc="lower right", ncols=min(len(bars), 3))
    low = min(b.get_height() for b in ax.patches) if ax.patches else 0
    ax.set_ylim(max(0, 10 * np.floor(low / 10) - 10), None)
    plt.close(fig)
    return fig


@style.drawn
def plot_training_signals(runs, keys=("query_loss", "grad_norm", "proto_cos_fg_bg"), titles=None,
                          smooth: int = 5, fold: int | None = None, log_keys=("grad_norm", "proto_norm_fg")):
    """One panel per logged ``key`` of every run (:func:`panet_min.evidence.training_runs`), a line
    per run (moving average of ``smooth`` log lines) coloured by its setting; ``fold``: that fold's
    runs only. Keys in ``log_keys`` on a log scale. Returns the figure."""
    import matplotlib.pyplot as plt

    runs = [r for r in runs if fold is None or r.fold == fold]
    fig, axes = style.figure(1, len(keys), panel_aspect=0.9, extra_height=0.5)
    other, seen = {}, {}
    for ax, key, title in zip(axes[0], keys, titles or keys):
        for run in runs:
            if not any(key in rec for rec in run.log):
                continue
            steps, values = series(run.log, key)
            line, = ax.plot(steps, moving_average(values, smooth), color=_colour(run.setting, other), lw=0.9,
                            alpha=0.85)
            seen.setdefault(run.setting, line)
        if key in log_keys:
            ax.set_yscale("log")
        if key == "query_loss":
            ax.axhline(np.log(2), color="grey", lw=0.8, ls=":")  # 1-way, p = 0.5 everywhere
        ax.set_title(title)
        ax.set_xlabel("training step")
    fig.legend(list(seen.values()), list(seen), loc="outside lower center", ncols=max(1, len(seen)))
    plt.close(fig)
    return fig


@style.drawn
def plot_curves(curves: dict, cells_by_setting: dict, key: str = "mean_iou", ylabel: str = "mean-IoU (%)",
                scale: float = 100.0, title: str | None = None, ax=None):
    """Held-out ``key`` at each evaluated step: ``cells_by_setting`` ``{setting: [cell, ...]}`` (one
    cell per training seed) of ``curves`` (:func:`panet_min.evidence.curves`); the line is the mean
    over seeds, each seed a dot. Returns the figure."""
    import matplotlib.pyplot as plt

    fig = None
    if ax is None:
        fig, axes = style.figure(1, 1, panel_aspect=0.45)
        ax = axes[0, 0]
    other = {}
    for setting, cells in cells_by_setting.items():
        points = [{p["step"]: p[key] for p in curves.get(c, []) if p[key] is not None} for c in cells]
        steps = sorted(set.intersection(*(set(p) for p in points))) if points else []
        if not steps:
            continue
        colour = _colour(setting, other)
        values = np.array([[p[s] for s in steps] for p in points]) * scale
        ax.plot(steps, values.mean(0), "-", color=colour, label=f"{setting} (n={len(points)})")
        for row in values:
            ax.plot(steps, row, "o", ms=3, color=colour, alpha=0.6)
    ax.set_xlabel("training step")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    if fig is not None:
        plt.close(fig)
    return fig if fig is not None else ax.figure


__all__ = ["plot_seed_bars", "plot_training_signals", "plot_curves"]
