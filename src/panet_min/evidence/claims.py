"""The paper's claims as chapter 10 tests them: its published figures, one :class:`Claim` per claim
with its verdict, and the third claim (prototype alignment, speed of convergence)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import stats
from ..viz.curves import MISSING, markdown_table
from .grid import Entry, _common_runs, _pair, effect, format_effect, format_seeds

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
    from ..counts import read_counts

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
