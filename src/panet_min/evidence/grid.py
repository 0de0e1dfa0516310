"""A grid's results as ``{test: {fold: {setting: [Entry per training seed]}}}``, scores over training
seeds, and the bootstrap effect of one setting against another (book chapter 10)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import stats
from ..checkpoint import read_json
from ..counts import load_counts
from ..report import experiment, train_seed
from ..schema import validate_results
from ..viz.curves import MISSING, markdown_table

GRID = "msrc-241"


def book_grid_dir(name: str = GRID) -> Path:
    """``panet_min/results/<grid>``: the grid results shipped with the package."""
    from ..report import book_results_dir

    return book_results_dir() / name


@dataclass
class Entry:
    """One evaluation: its cell, training seed (None untrained), results and where they are."""
    cell: str
    seed: int | None
    results: dict
    path: Path

    def counts(self) -> stats.EpisodeCounts:
        return load_counts(self.path, self.results)

    def score(self, metric: str = "mean_iou") -> float:
        return self.results[metric]["mean"]


def setting(r: dict) -> str:
    """"no training", "trained", "no PAR" (+ ", trained K-shot" when K != 1), and the protocol
    options "strict", "stuff as training" as :func:`panet_min.report.experiment` names them (+ ", no
    PAR" with lambda = 0), and the options that are not the original's (", clipped C", ", warm-up N")."""
    name = experiment(r)
    cfg = r["model"].get("trained_config") or {}
    if name in ("stuff as training", "strict") and float(cfg.get("par_weight", 1.0)) == 0:
        name += ", no PAR"
    if cfg.get("clip_grad"):
        name += f", clipped {float(cfg['clip_grad']):g}"
    if cfg.get("warmup"):
        name += f", warm-up {cfg['warmup']}"
    k = cfg.get("shots", 1)
    return name if not r["model"]["trained"] or k == 1 else f"{name}, trained {k}-shot"


def grid_results(results_dir=None) -> dict:
    """``{test: {fold: {setting: [Entry, ...]}}}`` of every ``<cell>/<test>.json`` under
    ``results_dir`` (default: the book's grid), entries sorted by training seed."""
    root = book_grid_dir() if results_dir is None else Path(results_dir)
    table: dict = {}
    for path in sorted(root.glob("*/*.json")):
        if path.name in ("config.json",) or path.name.endswith(".partial.json"):
            continue
        r = validate_results(read_json(path, "results file"))
        entry = Entry(path.parent.name, train_seed(r), r, path)
        table.setdefault(path.stem, {}).setdefault(r["data"]["fold"], {}).setdefault(setting(r), []).append(entry)
    for folds in table.values():
        for settings in folds.values():
            for entries in settings.values():
                entries.sort(key=lambda e: -1 if e.seed is None else e.seed)
    return table


def seed_scores(entries: list[Entry], metric: str = "mean_iou") -> dict:
    """Mean ± sample std (ddof 1) over the entries' training seeds of the protocol's score (each
    seed's mean over its runs), with n (:func:`panet_min.stats.seed_summary`)."""
    return stats.seed_summary([e.score(metric) for e in entries])


def over_folds(folds: dict, name: str, metric: str = "mean_iou") -> dict | None:
    """The mean over folds of each training seed's score (seed i of every fold), summarised over
    seeds; None unless every fold has the setting with the same number of seeds."""
    lists = [folds[f].get(name, []) for f in sorted(folds)]
    n = {len(x) for x in lists}
    if not lists or 0 in n or len(n) != 1:
        return None
    return stats.seed_summary(np.mean([[e.score(metric) for e in x] for x in lists], axis=0))


def format_seeds(s: dict | None, digits: int = 1) -> str:
    """"66.7 ± 1.6 (n=3)" in percent; one seed: "66.7 (n=1)"; None: n/a."""
    if s is None or s["mean"] is None:
        return MISSING
    mean = f"{100 * s['mean']:.{digits}f}"
    return f"{mean} ± {100 * s['std']:.{digits}f} (n={s['n']})" if s["std"] is not None else f"{mean} (n={s['n']})"


def seed_table(table: dict, test: str, settings, metric: str = "mean_iou") -> str:
    """Markdown: one row per fold and one for the mean over folds, one column per setting, each
    cell the mean ± sample std over training seeds (n) of ``metric`` (%) under ``test``."""
    folds = table.get(test, {})
    rows = [[f"fold {f}", *(format_seeds(seed_scores(folds[f][s], metric)) if s in folds[f] else MISSING
                            for s in settings)] for f in sorted(folds)]
    rows.append(["mean over folds", *(format_seeds(over_folds(folds, s, metric)) for s in settings)])
    return markdown_table(["fold", *settings], rows)


def effect(table: dict, a: tuple[str, str], b: tuple[str, str], folds=None, metric: str = "mean_iou",
           n_resamples: int = stats.N_RESAMPLES, paired=True) -> dict:
    """``b - a`` with its bootstrap CI, over ``folds`` (default: every fold that has both).
    ``a``, ``b``: ``(test, setting)``, e.g. ``("mask-1shot", "no PAR")``, ``("mask-1shot", "trained")``.

    ``paired=True``: seeds pair by training seed (an untrained model stands for every seed) and the
    two tests share their episodes (dense vs scribble; both cut to their common runs). ``"seeds"``: the
    same models on other episodes (a model's 1-shot against its 5-shot test). ``False``: other models
    on other episodes (:func:`panet_min.stats.paired_difference`). Adds ``"folds"``, ``"per_fold"``
    (each fold's effect and CI), and ``"a"``/``"b"``: each side's score over the folds as used
    (:func:`panet_min.stats.seed_summary` of seed i's mean over the folds; None when the folds have
    different numbers of seeds)."""
    pairs, per_fold, used = [], {}, {"a": [], "b": []}
    avail = sorted(set(table.get(a[0], {})) & set(table.get(b[0], {})))
    for f in folds if folds is not None else avail:
        ea, eb = table[a[0]][f].get(a[1], []), table[b[0]][f].get(b[1], [])
        if paired:
            ea, eb = _pair(ea, eb)
        if not ea or not eb:
            continue
        ca, cb = [e.counts() for e in ea], [e.counts() for e in eb]
        pair = _common_runs(ca, cb) if paired is True else (ca, cb)
        pairs.append(pair)
        for side, counts in zip("ab", pair):
            used[side].append([float(stats.scores(c)[metric].mean()) for c in counts])
        per_fold[f] = stats.paired_difference([pair], metric=metric, n_resamples=n_resamples, paired=paired)
    if not pairs:
        raise ValueError(f"no fold has both {a} and {b}")
    out = stats.paired_difference(pairs, metric=metric, n_resamples=n_resamples, paired=paired)
    out["folds"], out["per_fold"] = list(per_fold), per_fold
    for side, lists in used.items():
        n = {len(x) for x in lists}
        out[side] = stats.seed_summary(np.mean(lists, axis=0)) if len(n) == 1 else None
    return out


def _common_runs(a: list, b: list) -> tuple[list, list]:
    """Both sides cut to their common first runs: run r of every test is seeded ``seed + r``, so a
    3-run and a 5-run test of one fold share their first three runs' episodes."""
    R = min(x.class_ids.shape[0] for x in a + b)
    cut = lambda x: stats.EpisodeCounts(x.class_ids[:R], x.counts[:R], x.classes, x.n_classes)
    return [cut(x) for x in a], [cut(x) for x in b]


def _pair(ea: list[Entry], eb: list[Entry]) -> tuple[list[Entry], list[Entry]]:
    """The entries of both sides seed by seed (the seeds present on both); an untrained model (no
    training seed) stands for every seed of the other side."""
    if len(ea) == 1 and ea[0].seed is None or len(eb) == 1 and eb[0].seed is None:
        return ea, eb
    seeds = sorted({e.seed for e in ea} & {e.seed for e in eb})
    return [e for e in ea if e.seed in seeds], [e for e in eb if e.seed in seeds]


def format_effect(ci: dict, digits: int = 1) -> str:
    """"+8.0 [+5.1, +10.9]" in percentage points."""
    f = lambda x: f"{100 * x:+.{digits}f}"
    return f"{f(ci['difference'])} [{f(ci['low'])}, {f(ci['high'])}]"
