"""The book's evidence, read from a grid's results (chapter 10): scores over training seeds and the
paired effects behind each of the paper's claims.

The grid (:mod:`panet_min.experiments`) leaves one folder per cell, ``<cell>/<test>.json`` plus its
per-episode counts. Here they become

- :func:`grid_results` -> ``{test: {fold: {setting: [Entry per training seed]}}}``, a setting being
  "no training", "trained" (PAR), "no PAR", with ", trained 5-shot" for models trained 5-shot;
- :func:`seed_scores` / :func:`seed_table`: mean ± sample std over training seeds (n shown), per
  fold and for the mean over folds;
- :func:`effect`: the difference of two settings with its paired bootstrap CI (:mod:`panet_min.stats`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import stats
from .checkpoint import read_json
from .counts import load_counts
from .report import experiment, train_seed
from .schema import validate_results
from .viz.curves import MISSING, markdown_table

GRID = "msrc-241"


def book_grid_dir(name: str = GRID) -> Path:
    """``panet_min/results/<grid>``: the grid results shipped with the package."""
    from .report import book_results_dir

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




# The paper's figures (PASCAL-5i, mean-IoU %, mean over folds): "about" where the project's notes on
# the paper mark them as approximate (the ablation and weak-annotation tables).
PAPER = {"1-shot": 48.1, "5-shot": 55.7, "no PAR 1-shot": ("about", 47.2), "no PAR 5-shot": ("about", 54.9),
         "scribble 1-shot": ("about", 44.8), "box 1-shot": ("about", 45.1),
         "scribble 5-shot": ("about", 54.6), "box 5-shot": ("about", 52.8)}


def paper(key: str) -> tuple[str, float]:
    """``("", 48.1)`` or ``("about", 47.2)``: a published figure and how sure the notes are of it."""
    v = PAPER[key]
    return v if isinstance(v, tuple) else ("", v)


def paper_effect(a: str, b: str) -> str:
    """The paper's ``b - a`` in points, "about" when either figure is approximate."""
    (qa, va), (qb, vb) = paper(a), paper(b)
    return f"{'about ' if qa or qb else ''}{vb - va:+.1f}"


@dataclass
class Claim:
    """One of the paper's claims as chapter 10 tests it: ``b - a`` under ``metric``, expected sign."""
    name: str
    a: tuple[str, str]
    b: tuple[str, str]
    paper: str
    expected_sign: int = 1
    paired: bool | str = True  # True, "seeds" or False: see effect()
    words: dict | None = None  # the verdict in the claim's own words, e.g. {"opposite": "no cost"}

    def say(self, verdict: str) -> str:
        """The verdict ("shown", "not shown", "opposite") as the table prints it for this claim."""
        return (self.words or {}).get(verdict, verdict)


# A weak-support claim is "a small cost": the verdict says whether a cost is there at all.
WEAK_WORDS = {"shown": "shown: a cost", "not shown": "no cost shown", "opposite": "no cost: weak beats dense"}


CLAIMS = (
    Claim("meta-training beats ImageNet features (1-shot)", ("mask-1shot", "no training"), ("mask-1shot", "trained"),
          "not in our notes"),
    Claim("PAR improves 1-shot", ("mask-1shot", "no PAR"), ("mask-1shot", "trained"), paper_effect("no PAR 1-shot", "1-shot")),
    Claim("PAR improves 5-shot", ("mask-5shot", "no PAR, trained 5-shot"), ("mask-5shot", "trained, trained 5-shot"),
          paper_effect("no PAR 5-shot", "5-shot")),
    Claim("5-shot beats 1-shot (each trained at its shots)", ("mask-1shot", "trained"),
          ("mask-5shot", "trained, trained 5-shot"), paper_effect("1-shot", "5-shot"), paired=False),
    Claim("5 support shots beat 1 (the 1-shot-trained model)", ("mask-1shot", "trained"), ("mask-5shot", "trained"),
          paper_effect("1-shot", "5-shot"), paired="seeds"),
    Claim("scribbles cost little (1-shot)", ("mask-1shot", "trained"), ("scribble-1shot", "trained"),
          paper_effect("1-shot", "scribble 1-shot"), expected_sign=-1, words=WEAK_WORDS),
    Claim("boxes cost little (1-shot)", ("mask-1shot", "trained"), ("bbox-1shot", "trained"),
          paper_effect("1-shot", "box 1-shot"), expected_sign=-1, words=WEAK_WORDS),
)


def check_claim(claim: Claim, table: dict, n_resamples: int = stats.N_RESAMPLES) -> dict | None:
    """The claim's effect and CI over the folds that have both settings (None when none has), with its
    verdict: "shown" / "not shown" (the CI covers 0) / "opposite". For the weak-support claims the
    paper's point is a *small* cost: the verdict there says whether a cost is shown at all."""
    try:
        ci = effect(table, claim.a, claim.b, n_resamples=n_resamples, paired=claim.paired)
    except ValueError:
        return None
    ci["verdict"] = stats.verdict(ci, claim.expected_sign)
    return ci


PAIRING = {True: "paired", "seeds": "paired by seed", False: "unpaired"}


def claims_table(table: dict, claims=CLAIMS, n_resamples: int = stats.N_RESAMPLES) -> tuple[str, list]:
    """Chapter 10's table: claim | the paper's effect | ours: setting a and setting b over folds as the
    effect used them (mean ± sample std over training seeds, n) | our effect with its 95% CI |
    verdict. Returns the Markdown and the list of ``(claim, ci or None)``."""
    rows, tested = [], []
    for c in claims:
        ci = check_claim(c, table, n_resamples)
        tested.append((c, ci))
        ours = MISSING if ci is None else f"{format_seeds(ci['a'])} → {format_seeds(ci['b'])}"
        rows.append([c.name, c.paper, ours, MISSING if ci is None else format_effect(ci),
                     MISSING if ci is None else f"{c.say(ci['verdict'])} ({PAIRING[ci['paired']]}, "
                                                f"folds {', '.join(map(str, ci['folds']))})"])
    header = ["claim", "paper, points (PASCAL-5i)", "ours: a → b, mIoU % over folds (mean ± sd over seeds)",
              "ours: b − a, points [95% CI]", "verdict"]
    return markdown_table(header, rows), tested


# The paper's third claim: PAR aligns the support and query prototypes of a class more tightly, and
# training converges faster. The dense 1-shot test records per episode (panet_min.evaluate) the
# distance of each way's support prototype to the query's own (pooled with the true mask), Euclidean
# and cosine, and the support's own foreground-background cosine distance (its contrast).
DISTANCES = {"Euclidean distance": 0, "cosine distance": 1, "cosine distance / fg-bg contrast": 2}


def distance_values(entries: list[Entry], which: int) -> list[np.ndarray]:
    """Per seed, ``[R, E]`` per-episode distances of way 1: 0 Euclidean, 1 cosine (1 - cos), 2 the
    cosine distance divided by the support's foreground-background cosine distance."""
    from .counts import read_counts

    d = [read_counts(e.path)["distances"][:, :, :, 0] for e in entries]
    return [x[:, :, 1] / x[:, :, 2] if which == 2 else x[:, :, which] for x in d]


def distance_effect(table: dict, which: int, a: str = "no PAR", b: str = "trained", test: str = "mask-1shot",
                    n_resamples: int = stats.N_RESAMPLES) -> dict:
    """``b - a`` of a prototype distance (:func:`distance_values`), paired by seed and episode over the
    folds that have both settings (checked: the same episodes; cut to the common runs), with
    ``"a_mean"``/``"b_mean"`` (means over folds of the seeds' means)."""
    pairs, folds = [], []
    for f in sorted(table.get(test, {})):
        ea, eb = _pair(table[test][f].get(a, []), table[test][f].get(b, []))
        if not ea or not eb:
            continue
        ca, cb = _common_runs([e.counts() for e in ea], [e.counts() for e in eb])
        if not all(np.array_equal(x.class_ids, ca[0].class_ids) for x in ca + cb):
            raise ValueError(f"{test} fold {f}: {a} and {b} were tested on other episodes")
        R = ca[0].class_ids.shape[0]
        pairs.append(tuple([x[:R] for x in distance_values(es, which)] for es in (ea, eb)))
        folds.append(f)
    if not pairs:
        raise ValueError(f"no fold has both {a} and {b} under {test}")
    ci = stats.paired_difference(pairs, n_resamples=n_resamples)
    ci["a_mean"], ci["b_mean"] = (float(np.mean([np.mean([np.nanmean(x) for x in p[i]]) for p in pairs]))
                                  for i in (0, 1))
    ci["folds"] = folds
    return ci


def curve_effect(table: dict, curve: dict, step: int, a: str = "no PAR", b: str = "trained",
                 test: str = "mask-1shot", n_resamples: int = stats.N_RESAMPLES) -> dict:
    """``b - a`` of the held-out mean-IoU at a kept checkpoint (``curve``: :func:`curves`), paired by
    seed and episode over the folds that have both settings at that step."""
    pairs, folds, means = [], [], []
    for f in sorted(table.get(test, {})):
        if not {a, b} <= set(table[test][f]):
            continue
        ea, eb = _pair(table[test][f][a], table[test][f][b])
        at = lambda es: [p["entry"] for e in es for p in curve.get(e.cell, []) if p["step"] == step]
        ca, cb = at(ea), at(eb)
        if ca and len(ca) == len(ea) and len(cb) == len(eb):
            pairs.append(([e.counts() for e in ca], [e.counts() for e in cb]))
            means.append([np.mean([e.score() for e in ca]), np.mean([e.score() for e in cb])])
            folds.append(f)
    if not pairs:
        raise ValueError(f"no fold has both {a} and {b} at step {step}")
    a_mean, b_mean = np.mean(means, axis=0)
    return {**stats.paired_difference(pairs, n_resamples=n_resamples), "folds": folds, "a_mean": float(a_mean),
            "b_mean": float(b_mean)}


def alignment_table(table: dict, curve: dict, steps=(250, 500),
                    n_resamples: int = stats.N_RESAMPLES) -> tuple[str, list]:
    """The third claim as rows of the claims table: each distance (no PAR → PAR, PAR − no PAR with its
    paired CI, verdict: PAR closer?) and the held-out mean-IoU at early checkpoints (PAR ahead?).
    Returns the Markdown and ``[(row name, ci, verdict)]``."""
    rows, tested = [], []
    for name, which in DISTANCES.items():
        try:
            ci = distance_effect(table, which, n_resamples=n_resamples)
        except ValueError:
            continue
        v = stats.verdict(ci, expected_sign=-1)
        scale, digits = (1e-3, 2) if which == 0 else (1.0, 3)
        unit = " (thousands)" if which == 0 else ""
        num = lambda x: f"{scale * x:.{digits}f}"
        snum = lambda x: f"{scale * x:+.{digits}f}"
        tested.append((name, ci, v))
        rows.append([f"PAR aligns the prototypes: {name}{unit}", "claimed, no figure",
                     f"{num(ci['a_mean'])} → {num(ci['b_mean'])}",
                     f"{snum(ci['difference'])} [{snum(ci['low'])}, {snum(ci['high'])}]",
                     {"shown": "shown: PAR closer", "opposite": "opposite: PAR farther",
                      "not shown": "not shown"}[v] + f" (paired, folds {', '.join(map(str, ci['folds']))})"])
    for step in steps:
        try:
            ci = curve_effect(table, curve, step, n_resamples=n_resamples)
        except ValueError:
            continue
        v = stats.verdict(ci)
        tested.append((f"held-out mean-IoU at step {step}", ci, v))
        rows.append([f"PAR converges faster: held-out mIoU at step {step}", "claimed, no figure",
                     f"{100 * ci['a_mean']:.1f} → {100 * ci['b_mean']:.1f}",
                     format_effect(ci), f"{v} (paired, folds {', '.join(map(str, ci['folds']))})"])
    header = ["claim", "paper", "ours: no PAR → PAR (mean over folds and seeds)", "ours: PAR − no PAR [95% CI]",
              "verdict"]
    return markdown_table(header, rows), tested


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
    from .viz.curves import read_log

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
    from .viz.curves import moving_average, series

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


__all__ = ["Entry", "grid_results", "setting", "seed_scores", "over_folds", "seed_table", "effect",
           "format_seeds", "format_effect", "book_grid_dir", "PAPER", "paper", "Claim", "CLAIMS", "check_claim",
           "claims_table", "Run", "training_runs", "curves", "DISTANCES", "distance_values", "distance_effect",
           "curve_effect", "alignment_table", "WEAK_WORDS", "STUCK_LOSS", "STUCK_WINDOW", "STUCK_AFTER",
           "smoothed_loss", "stuck_steps", "peak_loss"]
