"""Figures of evaluations (book chapters 8 and 11): toy predictions, per-class IoU over runs, the
cosine-scale sweep, one query predicted with 1 and with K supports.

Each function draws one figure at the book's sizes (:mod:`panet_min.viz.style`) and returns it.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.colors import ListedColormap

from . import style
from .curves import plot_class_iou
from .overlays import as_numpy, overlay_mask

# toy label maps: background, foreground, ignored (255)
TOY_COLOURS = ("#f0f0f0", "#d62728", "#000000")


@style.drawn
def plot_toy_episodes(toy: Sequence, class_names: Sequence[str]):
    """A column per toy episode ``(prediction [H,W], truth [H,W], [class id])``: the truth above,
    the prediction below; background light grey, foreground red, ignored (255) black.
    ``class_names[c - 1]`` names global id ``c``."""
    if not toy:
        raise ValueError("no toy episode to draw")
    cmap = ListedColormap(list(TOY_COLOURS))
    fig, axes = style.figure(2, len(toy), panel_aspect=0.8)
    for i, (pred, truth, ids) in enumerate(toy):
        name = class_names[int(ids[0]) - 1]
        for row, (m, what) in enumerate(((truth, "truth"), (pred, "prediction"))):
            m = as_numpy(m)
            ax = axes[row, i]
            ax.imshow(np.where(m == 255, 2, np.clip(m, 0, 1)), cmap=cmap, vmin=0, vmax=2)
            ax.set_title(f"episode {i + 1} ({name}): {what}")
            ax.set_xticks([])
            ax.set_yticks([])
    return fig


def mean_over_runs(per_run) -> np.ndarray:
    """``[R, C]`` IoUs (NaN: the class was not in that run's queries) -> ``[C]``: the mean over the
    runs that saw each class, NaN where no run did."""
    a = np.asarray(per_run, dtype=float)
    if a.ndim != 2:
        raise ValueError(f"expected IoUs [runs, classes], got shape {a.shape}")
    seen = np.isfinite(a)
    with np.errstate(invalid="ignore"):
        return np.where(seen.any(0), np.where(seen, a, 0).sum(0) / seen.sum(0), np.nan)


@style.drawn
def plot_class_iou_runs(class_names: Sequence[str], per_run: Mapping[str, Sequence], colours=None):
    """Grouped bars of per-class IoU, each the mean over runs (NaN runs left out; a class no run
    saw is marked "n/a"). ``per_run``: ``{label: [R, C] IoUs}`` in ``class_names`` order;
    ``colours``: ``{label: meaning or colour}`` (:func:`panet_min.viz.style.colours_for`)."""
    bars = {label: (mean_over_runs(v), None) for label, v in per_run.items()}
    fig = plot_class_iou(class_names, bars, figsize=(style.WIDTH, 2.8), colours=colours)
    ax = fig.axes[0]
    ax.set_ylabel("IoU (%), mean over runs")
    ax.legend(ncol=len(bars), loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    return fig


@style.drawn
def plot_encoder_class_iou(class_names: Sequence[str], class_iou: Mapping[str, Sequence], title: str,
                           colours=None):
    """Per-class IoU bars of several encoders, ``{encoder: [C] IoUs}``, the legend above the bars
    (where it hides none of them) and ``title`` above the legend."""
    bars = {name: (v, None) for name, v in class_iou.items()}
    fig = plot_class_iou(class_names, bars, figsize=(style.WIDTH, 3.2), colours=colours)
    fig.axes[0].legend(ncol=len(bars), loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    fig.suptitle(title)
    return fig


@style.drawn
def plot_alpha_sweep(alphas: Sequence[float], cross_entropy: Sequence[float], confidence: Sequence[float],
                     mean_iou: Sequence[float], alpha: float = 20.0, meaning: str = "no training"):
    """Two panels over the cosine scale (log axis): the query cross-entropy; the mean largest
    softmax probability and the mean-IoU. A dashed line marks ``alpha`` (the paper's 20); the
    curves take the colour of ``meaning``."""
    a = np.asarray(alphas, dtype=float)
    series = [np.asarray(s, dtype=float) for s in (cross_entropy, confidence, mean_iou)]
    if any(s.shape != a.shape for s in series) or a.ndim != 1 or (a <= 0).any():
        raise ValueError("alphas (positive) and the three series must be 1-D and of the same length")
    ce, conf, miou = series
    colour = style.COLOURS.get(meaning, meaning)
    fig, axes = style.figure(1, 2, panel_aspect=0.7)
    ax = axes[0, 0]
    ax.semilogx(a, ce, "o-", color=colour)
    ax.axvline(alpha, color="0.6", linestyle="--", linewidth=1)
    ax.set(xlabel="alpha", ylabel="query cross-entropy", title="the loss depends on alpha")
    ax = axes[0, 1]
    ax.semilogx(a, conf, "o-", color=colour, label="mean max probability")
    ax.semilogx(a, miou, "s--", color=colour, label="mean-IoU")
    ax.axvline(alpha, color="0.6", linestyle="--", linewidth=1)
    ax.set(xlabel="alpha", ylim=(0, 1.05), title="the prediction does not")
    ax.legend(loc="lower right")
    return fig


@style.drawn
def plot_shot_predictions(episode: Mapping, predictions: Mapping[str, object], way: int = 1):
    """One 1-query episode: its first support with its mask, the query with its truth, then the
    query with each prediction of ``predictions`` (``{title: [H,W] labels}``); way ``way`` is
    drawn. Images at the model's (square) size."""
    n_shots = episode["support_images"].shape[1]
    query = episode["query_images"][0]
    panels = [(overlay_mask(episode["support_images"][way - 1, 0], as_numpy(episode["support_fg"][way - 1, 0]) > 0),
               f"support 1 of {n_shots}"),
              (overlay_mask(query, as_numpy(episode["query_labels"][0]) == way), "query, truth")]
    panels += [(overlay_mask(query, as_numpy(p) == way), title) for title, p in predictions.items()]
    fig, axes = style.figure(1, len(panels), panel_aspect=1.0, extra_height=0.3)
    for ax, (img, title) in zip(axes[0], panels):
        ax.imshow(img)
        ax.set_title(title)
        ax.axis("off")
    return fig


__all__ = ["plot_toy_episodes", "mean_over_runs", "plot_class_iou_runs", "plot_encoder_class_iou",
           "plot_alpha_sweep", "plot_shot_predictions"]
