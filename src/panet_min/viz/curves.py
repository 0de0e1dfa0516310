"""Training curves, prototype distances, per-class IoU bars and results tables.

Everything here reads plain Python/numpy data (a run's ``log.jsonl`` records,
per-class IoU lists from a results JSON) and returns a matplotlib Figure or a
string, so the chapters stay a few lines long:

- ``read_log(path)``                      one JSON object per line -> list of dicts
- ``series(records, key)``                (steps, values) of one logged quantity
- ``moving_average(values, window)``      trailing mean, same length
- ``plot_training_curves(runs, keys)``    loss curves of several runs side by side
- ``plot_prototype_distance(runs)``       support-vs-query prototype distance over training
- ``plot_class_iou(names, runs)``         per-class IoU bars with std error bars
- ``plot_paper_vs_ours(labels, ...)``     paired bars: the paper's number next to ours
- ``markdown_table(header, rows)``        a results table as Markdown text (no pandas)
- ``format_score(mean, std)``             "42.3 ± 0.5" (fractions shown as percent)
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from . import style

MISSING = "n/a"


def read_log(path) -> list[dict]:
    """Read a run's ``log.jsonl``: one JSON object per line, blank lines skipped.

    A missing file or a line that is not a JSON object -> ValueError naming the file and line
    (a run killed while writing its last line is the usual cause: delete that line).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no training log at {path}: train a run first (python -m panet_min.train --out DIR)")
    records = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}, line {n}: not JSON ({err.msg}); a run killed mid-write leaves "
                             "a truncated last line, delete it") from None
        if not isinstance(record, dict):
            raise ValueError(f"{path}, line {n}: expected a JSON object, got {type(record).__name__}")
        records.append(record)
    return records


def series(records: Sequence[Mapping], key: str, step_key: str = "step") -> tuple[np.ndarray, np.ndarray]:
    """``(steps [T], values [T])`` of the records that carry ``key`` (a name that
    :mod:`panet_min.train` logs) with a finite number; records without it (e.g. the distance is
    logged every M steps) are skipped. A key that no record carries -> ValueError listing the
    keys that are there."""
    if not _logged(records, key):
        present = sorted({k for r in records for k in r})
        raise ValueError(f"no record carries {key!r}; logged keys: {present}")
    steps, values = [], []
    for i, r in enumerate(records):
        v = r.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            steps.append(r.get(step_key, i))
            values.append(float(v))
    return np.asarray(steps, dtype=float), np.asarray(values, dtype=float)


def _logged(records: Sequence[Mapping], key: str) -> bool:
    return any(key in r for r in records)


def moving_average(values, window: int) -> np.ndarray:
    """Trailing mean over the last ``window`` values, same length as ``values`` [T]:
    ``out[t] = mean(values[max(0, t-window+1) : t+1])`` (the first points average fewer values)."""
    values = np.asarray(values, dtype=float)
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"window must be a positive integer, got {window!r}")
    if values.size == 0 or window == 1:
        return values.copy()
    c = np.concatenate([[0.0], np.cumsum(values)])
    t = np.arange(1, values.size + 1)
    lo = np.maximum(0, t - window)
    return (c[t] - c[lo]) / (t - lo)


def _runs(runs) -> dict:
    if isinstance(runs, Mapping):
        out = dict(runs)
    else:
        out = {"run": runs}
    if not out:
        raise ValueError("no runs to plot")
    return out


@style.drawn
def plot_training_curves(runs, keys: Sequence[str] = ("loss", "query_loss", "par_loss"), smooth: int = 1,
                         figsize=(11, 3.2), colours=None):
    """One panel per logged quantity in ``keys``, one line per run.

    ``runs``: ``{name: records}`` (records from ``read_log``) or a single list of records.
    ``smooth`` > 1 draws the raw curve faintly and its ``moving_average`` on top. A key that
    no run logged gets an empty panel that says so (e.g. ``par_loss`` of a run without PAR).
    ``colours``: ``{name: meaning or colour}``; by default a run named by a meaning of
    :data:`panet_min.viz.style.COLOURS` (``"trained"``, ``"no PAR"``...) takes its colour.
    """
    runs = _runs(runs)
    colour_of = style.colours_for(runs, colours)
    fig, axes = style.subplots(1, len(keys), figsize=figsize)
    for ax, key in zip(axes[0], keys):
        drawn = False
        for name, records in runs.items():
            if not _logged(records, key):
                continue
            steps, values = series(records, key)
            if values.size == 0:
                continue
            color = colour_of[name]
            if smooth > 1:
                ax.plot(steps, values, color=color, alpha=0.25, linewidth=0.8)
                ax.plot(steps, moving_average(values, smooth), color=color, label=name)
            else:
                ax.plot(steps, values, color=color, label=name)
            drawn = True
        ax.set_title(key)
        ax.set_xlabel("step")
        if drawn:
            ax.legend()
        else:
            ax.text(0.5, 0.5, f"{key}: not logged", ha="center", va="center", transform=ax.transAxes)
    return fig


@style.drawn
def plot_prototype_distance(runs, key: str = "proto_dist", smooth: int = 1, figsize=(6, 3.5),
                            colours=None):
    """Mean Euclidean distance between support and query prototypes over training, one line per
    run (the paper's figure: with PAR the two sets of prototypes stay closer).

    ``runs``: ``{name: records}`` or one list of records; ``key``: the logged distance
    (``proto_dist`` in :mod:`panet_min.train`'s log). A run that never logged it -> ValueError. ``smooth`` > 1 draws
    the raw points faintly and their ``moving_average`` on top (each point is one episode: noisy).
    ``colours`` as in :func:`plot_training_curves`.
    """
    runs = _runs(runs)
    colour_of = style.colours_for(runs, colours)
    fig, axes = style.subplots(figsize=figsize)
    ax = axes[0, 0]
    for name, records in runs.items():
        steps, values = series(records, key)
        c = colour_of[name]
        if smooth > 1:
            ax.plot(steps, values, marker="o", markersize=2, linewidth=0.6, alpha=0.3, color=c)
            ax.plot(steps, moving_average(values, smooth), color=c, label=name)
        else:
            ax.plot(steps, values, marker="o", markersize=3, color=c, label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("||support prototype - query prototype||")
    ax.set_title("prototype distance over training")
    ax.legend()
    return fig


def _as_float_array(x, n: int, what: str) -> np.ndarray:
    a = np.full(n, np.nan) if x is None else np.asarray([np.nan if v is None else v for v in x], dtype=float)
    if a.shape != (n,):
        raise ValueError(f"{what} has {a.size} values for {n} classes")
    return a


@style.drawn
def plot_class_iou(class_names: Sequence[str], runs, as_percent: bool = True, figsize=(10, 3.5),
                   colours=None):
    """Grouped bars: per-class IoU of each run, with ± std error bars.

    ``runs``: ``{name: (means [C], stds [C] or None)}``, IoU as fractions in [0, 1]. A NaN or
    None mean (a class never seen in the ground truth) draws no bar and an "n/a" mark instead
    of a misleading zero. Values outside [0, 1] -> ValueError. ``colours``: ``{name: meaning or
    colour}``; by default a run named by a meaning of ``style.COLOURS`` takes its colour.
    """
    if not isinstance(runs, Mapping) or not runs:
        raise ValueError("runs must be a non-empty {name: (means, stds)} mapping")
    C = len(class_names)
    scale = 100.0 if as_percent else 1.0
    colour_of = style.colours_for(runs, colours)
    fig, axes = style.subplots(figsize=figsize)
    ax = axes[0, 0]
    width = 0.8 / len(runs)
    x = np.arange(C)
    for i, (name, (means, stds)) in enumerate(runs.items()):
        m = _as_float_array(means, C, f"means of {name!r}")
        s = _as_float_array(stds, C, f"stds of {name!r}")
        if np.any((m[np.isfinite(m)] < 0) | (m[np.isfinite(m)] > 1)):
            raise ValueError(f"IoU of {name!r} must be fractions in [0, 1], got {m.tolist()}")
        pos = x - 0.4 + width * (i + 0.5)
        ok = np.isfinite(m)
        err = np.where(np.isfinite(s), s, 0.0)[ok] * scale
        ax.bar(pos[ok], m[ok] * scale, width, yerr=err if np.isfinite(s).any() else None,
               capsize=2, color=colour_of[name], label=name)
        for p in pos[~ok]:
            ax.text(p, 0.01 * scale, MISSING, ha="center", va="bottom", fontsize=style.FONT_SIZE - 1,
                    rotation=90)
    ax.set_xticks(x)
    ax.set_xticklabels(class_names, rotation=30, ha="right")
    ax.set_ylabel("IoU (%)" if as_percent else "IoU")
    ax.set_ylim(0, scale)
    ax.legend()
    return fig


@style.drawn
def plot_paper_vs_ours(labels: Sequence[str], paper, ours, ours_std=None, figsize=(10, 3.5),
                       ours_meaning: str = "trained"):
    """Paired bars per setting: the paper's number and ours (with ± std), both in percent.
    ``paper``/``ours``: [S] numbers or None/NaN where there is none (drawn as "n/a"). The paper's
    bars take ``style.colour("paper")``, ours ``style.colour(ours_meaning)``."""
    S = len(labels)
    p, o = _as_float_array(paper, S, "paper"), _as_float_array(ours, S, "ours")
    s = _as_float_array(ours_std, S, "ours_std")
    fig, axes = style.subplots(figsize=figsize)
    ax = axes[0, 0]
    x = np.arange(S)
    for vals, off, color, name, err in ((p, -0.2, style.colour("paper"), "paper", None),
                                        (o, 0.2, style.colour(ours_meaning), "this book", s)):
        ok = np.isfinite(vals)
        yerr = None if err is None or not np.isfinite(err).any() else np.where(np.isfinite(err), err, 0)[ok]
        ax.bar(x[ok] + off, vals[ok], 0.4, yerr=yerr, capsize=2, color=color, label=name)
        for xi in x[~ok]:
            ax.text(xi + off, 1, MISSING, ha="center", va="bottom", fontsize=style.FONT_SIZE - 1,
                    rotation=90)
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=20, ha="right")
    ax.set_ylabel("mean-IoU (%)")
    ax.legend()
    return fig


def format_score(mean, std=None, digits: int = 1, percent: bool = True) -> str:
    """``0.4234, 0.005 -> "42.3 ± 0.5"``; None/NaN -> "n/a". ``percent=False`` prints as given."""
    if mean is None or not math.isfinite(float(mean)):
        return MISSING
    k = 100.0 if percent else 1.0
    text = f"{float(mean) * k:.{digits}f}"
    if std is not None and math.isfinite(float(std)):
        text += f" ± {float(std) * k:.{digits}f}"
    return text


def markdown_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A Markdown table (GitHub style) from a header and rows of cells; cells are ``str()``-ed,
    None -> "n/a", "|" escaped. A row of the wrong length -> ValueError naming the row."""
    if not header:
        raise ValueError("markdown_table needs a header")

    def cell(v) -> str:
        return MISSING if v is None else str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise ValueError(f"row {i} has {len(row)} cells, the header has {len(header)}: {list(row)!r}")
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines)


__all__ = ["read_log", "series", "moving_average", "plot_training_curves",
           "plot_prototype_distance", "plot_class_iou", "plot_paper_vs_ours", "format_score",
           "markdown_table"]
