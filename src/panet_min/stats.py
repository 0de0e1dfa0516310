"""Statistics that say what they estimate (book chapters 8 and 10).

Two sources of variation move a few-shot score, and they are of very different sizes:

- **the test episodes**: which images a run happens to pair (the protocol's ``runs`` x ``episodes``);
- **the training seed**: which episodes a model was trained on, in which order (far larger here).

So a setting is reported as the **mean ± sample standard deviation over training seeds** (ddof 1,
with n), each seed's value being the protocol's score (the mean over runs of each run's mean-IoU).
A difference between two settings evaluated on the *same* episodes (PAR vs no PAR, trained vs
untrained, dense vs scribble) gets a **paired bootstrap 95% confidence interval** that resamples
both levels: the training seeds (paired by seed) and, within each run, the test episodes (the same
draw for both settings). Over folds, each fold is resampled on its own and the effect averaged.

The inputs are the per-episode counts each evaluation keeps beside its JSON
(:func:`panet_min.evaluate.load_counts`): ``class_ids [R,E,N]`` and ``counts [R,E,3,1+N]``
(TP, FP, FN of the background and each way), from which :func:`scores` recomputes the
protocol's numbers exactly (the same sums as :class:`panet_min.metrics.FewShotMeter`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
LEVEL = 0.95
METRICS = ("mean_iou", "binary_iou")


@dataclass
class EpisodeCounts:
    """One evaluation's per-episode counts: ``class_ids [R,E,N]`` (global ids of each episode's
    ways), ``counts [R,E,3,1+N]`` (TP, FP, FN of label 0 = background and of each way),
    ``classes`` (the test classes whose IoUs the mean-IoU averages), ``n_classes`` (the dataset's)."""
    class_ids: np.ndarray
    counts: np.ndarray
    classes: list
    n_classes: int

    def __post_init__(self):
        self.class_ids = np.asarray(self.class_ids, dtype=np.int64)
        self.counts = np.asarray(self.counts, dtype=np.int64)
        R, E, N = self.class_ids.shape
        if self.counts.shape != (R, E, 3, N + 1):
            raise ValueError(f"counts {self.counts.shape} do not match class_ids {self.class_ids.shape}: "
                             f"expected {(R, E, 3, N + 1)}")

    def slots(self) -> np.ndarray:
        """``[R, E, 3, n_classes + 1]``: each episode's counts placed at its classes' global ids
        (slot 0 = background)."""
        R, E, N = self.class_ids.shape
        out = np.zeros((R, E, 3, self.n_classes + 1), np.int64)
        r, e = np.meshgrid(np.arange(R), np.arange(E), indexing="ij")
        out[r, e, :, 0] += self.counts[:, :, :, 0]
        for j in range(N):  # a class given twice in an episode gets both, as FewShotMeter
            np.add.at(out, (r, e, slice(None), self.class_ids[:, :, j]), self.counts[:, :, :, j + 1])
        return out


def iou_from_sums(sums: np.ndarray, classes) -> dict:
    """Scores from summed counts ``sums [..., 3, n_classes + 1]`` (TP, FP, FN per global id):
    ``{"class_iou" [..., C] (NaN: unseen), "mean_iou" [...] (over the classes seen; NaN if none),
    "binary_iou" [...]}`` (FewShotMeter's rules)."""
    sums = np.asarray(sums, dtype=np.float64)
    tp, fp, fn = sums[..., 0, :], sums[..., 1, :], sums[..., 2, :]
    ids = np.asarray(list(classes), dtype=int)
    with np.errstate(invalid="ignore", divide="ignore"):
        class_iou = tp[..., ids] / (tp[..., ids] + fp[..., ids] + fn[..., ids])
        seen = ~np.isnan(class_iou)
        mean_iou = np.where(seen, class_iou, 0).sum(-1) / seen.sum(-1)
        t = np.stack([tp[..., 0], tp[..., 1:].sum(-1)], -1)
        f = np.stack([fp[..., 0], fp[..., 1:].sum(-1)], -1)
        n = np.stack([fn[..., 0], fn[..., 1:].sum(-1)], -1)
        binary = (t / (t + f + n)).mean(-1)
    return {"class_iou": class_iou, "mean_iou": mean_iou, "binary_iou": binary}


def scores(ev: EpisodeCounts, weights: np.ndarray | None = None) -> dict:
    """Per-run scores ``{"mean_iou" [R], "binary_iou" [R], "class_iou" [R, C]}`` of ``ev``;
    ``weights [R, E]`` (or ``[B, R, E]`` for B resamples at once) multiply each episode's counts
    (a bootstrap draw is the number of times each episode was drawn). None: every episode once,
    which gives the protocol's numbers."""
    slots = ev.slots().reshape(*ev.class_ids.shape[:2], -1).astype(np.float64)  # [R, E, 3*(C+1)]
    if weights is None:
        sums = slots.sum(1)
    else:
        w = np.asarray(weights, dtype=np.float64)
        sums = np.stack([w[..., r, :] @ slots[r] for r in range(len(slots))], -2)  # per run: [..., E] @ [E, K]
    return iou_from_sums(sums.reshape(*sums.shape[:-1], 3, ev.n_classes + 1), ev.classes)


def seed_summary(values) -> dict:
    """``{"mean", "std", "n", "values"}`` over training seeds; ``std`` is the sample standard
    deviation (ddof 1), None with fewer than 2 seeds."""
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    return {"mean": float(v.mean()) if v.size else None, "std": float(v.std(ddof=1)) if v.size > 1 else None,
            "n": int(v.size), "values": v.tolist()}


def _check_paired(sets: list) -> None:
    ref = sets[0]
    for s in sets[1:]:
        if isinstance(s, EpisodeCounts) and (s.class_ids.shape != ref.class_ids.shape
                                             or not np.array_equal(s.class_ids, ref.class_ids)):
            raise ValueError("a paired comparison needs the same test episodes: these evaluations drew different "
                             "classes (another fold, seed, number of runs or episodes?)")
        if not isinstance(s, EpisodeCounts) and np.shape(s) != np.shape(ref):
            raise ValueError(f"a paired comparison needs the same test episodes: shapes {np.shape(ref)} and "
                             f"{np.shape(s)}")


def _statistic(s, metric: str, weights) -> np.ndarray:
    """The protocol's score of one evaluation (mean over runs): of ``metric`` for counts, or the mean
    of a per-episode value ``[R, E]`` (NaN = not measured there); ``[B]`` under ``weights [B,R,E]``."""
    if isinstance(s, EpisodeCounts):
        return scores(s, weights)[metric].mean(-1)
    v = np.asarray(s, dtype=np.float64)
    ok = ~np.isnan(v)
    w = ok.astype(np.float64) if weights is None else np.asarray(weights) * ok
    with np.errstate(invalid="ignore", divide="ignore"):  # a run with no value: NaN, refused by the caller
        return ((w * np.where(ok, v, 0)).sum(-1) / w.sum(-1)).mean(-1)


def _shape(s) -> tuple[int, int]:
    return s.class_ids.shape[:2] if isinstance(s, EpisodeCounts) else np.shape(s)[:2]


def _draw(rng, n: int, R: int, E: int) -> np.ndarray:
    """``[n, R, E]``: how often each episode of each run is drawn in n bootstrap resamples."""
    draws = rng.integers(E, size=(n, R, E))
    weights = np.zeros((n, R, E))
    for r in range(R):
        np.add.at(weights[:, r], (np.arange(n)[:, None], draws[:, r]), 1.0)
    return weights


def _effect(a: list, b: list, metric: str, n: int, rng, paired) -> tuple[float, np.ndarray]:
    """The mean over seeds of ``b - a`` and ``n`` bootstrap replicates of it (``paired``: True, "seeds"
    or False, as :func:`paired_difference`)."""
    if not a or not b:
        raise ValueError("each setting needs at least one evaluation")
    if paired and len(a) != 1 and len(b) != 1 and len(a) != len(b):
        raise ValueError(f"{len(a)} and {len(b)} training seeds: pair them seed by seed (or give one "
                         "untrained evaluation, which is the same for every seed)")
    if paired is True:
        _check_paired(a + b)
    else:
        _check_paired(a), _check_paired(b)
    sa = np.stack([_statistic(x, metric, None) for x in a])
    sb = np.stack([_statistic(x, metric, None) for x in b])
    point = float(sb.mean() - sa.mean())  # paired or not, the mean over seeds of each side
    wa = _draw(rng, n, *_shape(a[0]))
    wb = wa if paired is True else _draw(rng, n, *_shape(b[0]))  # the same episodes, or other ones
    ma = np.stack([_statistic(x, metric, wa) for x in a])  # [Sa, n]
    mb = np.stack([_statistic(x, metric, wb) for x in b])
    cols = np.arange(n)[:, None]
    if paired:  # one seed index for both sides (the same models, or the same training seeds)
        S = max(len(a), len(b))
        ma, mb = np.broadcast_to(ma, (S, n)), np.broadcast_to(mb, (S, n))
        seeds = rng.integers(S, size=(n, S))
        return point, (mb[seeds, cols] - ma[seeds, cols]).mean(1)
    seeds_a, seeds_b = rng.integers(len(a), size=(n, len(a))), rng.integers(len(b), size=(n, len(b)))
    return point, mb[seeds_b, cols].mean(1) - ma[seeds_a, cols].mean(1)


def paired_difference(pairs, metric: str = "mean_iou", n_resamples: int = N_RESAMPLES,
                      seed: int = BOOTSTRAP_SEED, level: float = LEVEL, paired=True) -> dict:
    """The effect ``b - a`` and its bootstrap CI.

    ``pairs``: ``[(a, b)]``, one pair per fold; ``a`` and ``b`` are lists, one item per training seed
    in the same seed order (a list of one, such as the untrained model, stands for every seed). An
    item is an evaluation's :class:`EpisodeCounts` (scored by ``metric``) or an array ``[R, E]`` of a
    per-episode value such as a prototype distance (its mean; NaN = not measured). The effect is the
    mean over folds of the mean over seeds of ``score(b) - score(a)`` (scores in fractions, as the
    protocol's mean over runs). Each bootstrap resample draws, per fold, the seeds with replacement
    and, per run, the episodes with replacement. ``paired=True``: the same draw of seeds and of episodes
    for ``a`` and ``b`` (they are the same episodes, seed i of one is seed i of the other);
    ``paired="seeds"``: the same draw of seeds, independent draws of episodes (the same models tested on
    other episodes, e.g. a model's 1-shot against its 5-shot test); ``paired=False``: independent draws
    of both (other models on other episodes). Returns ``{"difference",
    "low", "high", "level", "n_resamples", "seed", "paired", "n_seeds" [per fold], "n_episodes" [per
    fold], "covers_zero"}``.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if paired not in (True, False, "seeds"):
        raise ValueError(f"paired must be True, False or 'seeds', got {paired!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    rng = np.random.default_rng(seed)
    points, reps = [], []
    for a, b in pairs:
        point, rep = _effect(list(a), list(b), metric, n_resamples, rng, paired)
        points.append(point)
        reps.append(rep)
    reps = np.mean(reps, axis=0)
    if not np.isfinite(reps).all():
        raise ValueError("the bootstrap gave non-finite replicates: a run without any measured value?")
    low, high = np.quantile(reps, [(1 - level) / 2, (1 + level) / 2])
    return {"difference": float(np.mean(points)), "low": float(low), "high": float(high), "level": level,
            "n_resamples": n_resamples, "seed": seed, "paired": paired, "covers_zero": bool(low <= 0 <= high),
            "n_seeds": [max(len(a), len(b)) for a, b in pairs],
            "n_episodes": [int(np.prod(_shape(a[0]))) for a, _ in pairs]}


def verdict(ci: dict, expected_sign: int = 1) -> str:
    """"shown" (the CI excludes 0 on the expected side), "opposite" (it excludes 0 on the other
    side) or "not shown" (it covers 0)."""
    if ci["covers_zero"]:
        return "not shown"
    return "shown" if np.sign(ci["low"]) == np.sign(expected_sign) else "opposite"  # low, high: one sign


__all__ = ["EpisodeCounts", "iou_from_sums", "scores", "seed_summary", "paired_difference", "verdict",
           "N_RESAMPLES", "BOOTSTRAP_SEED", "LEVEL"]
