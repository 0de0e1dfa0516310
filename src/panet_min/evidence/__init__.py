"""The book's evidence, read from a grid's results (chapter 10): scores over training seeds and the
paired effects behind each of the paper's claims.

The grid (:mod:`panet_min.experiments`) leaves one folder per cell, ``<cell>/<test>.json`` plus its
per-episode counts. Here they become

- :func:`grid_results` -> ``{test: {fold: {setting: [Entry per training seed]}}}``, a setting being
  "no training", "trained" (PAR), "no PAR", with ", trained 5-shot" for models trained 5-shot;
- :func:`seed_scores` / :func:`seed_table`: mean ± sample std over training seeds (n shown), per
  fold and for the mean over folds;
- :func:`effect`: the difference of two settings with its paired bootstrap CI (:mod:`panet_min.stats`).

Three modules, one idea each: :mod:`.grid` (results, seed summaries, effects), :mod:`.claims` (the
paper's claims and the alignment claim), :mod:`.logs` (training logs, stuck trainings, curves).
"""
from .. import stats  # noqa: F401  (chapters use evidence.stats.verdict)
from ..checkpoint import read_json  # noqa: F401
from .claims import (CLAIMS, DISTANCES, PAIRING, PAPER, WEAK_WORDS, Claim, alignment_table, check_claim,
                     claims_table, curve_effect, distance_effect, distance_values, paper, paper_effect)
from .grid import (GRID, Entry, book_grid_dir, effect, format_effect, format_seeds, grid_results, over_folds,
                   seed_scores, seed_table, setting)
from .logs import (STUCK_AFTER, STUCK_LOSS, STUCK_WINDOW, Run, curves, peak_loss, smoothed_loss, stuck_steps,
                   training_runs)

__all__ = ["Entry", "grid_results", "setting", "seed_scores", "over_folds", "seed_table", "effect",
           "format_seeds", "format_effect", "book_grid_dir", "GRID", "PAPER", "paper", "paper_effect", "Claim",
           "CLAIMS", "check_claim", "claims_table", "PAIRING", "Run", "training_runs", "curves", "DISTANCES",
           "distance_values", "distance_effect", "curve_effect", "alignment_table", "WEAK_WORDS", "STUCK_LOSS",
           "STUCK_WINDOW", "STUCK_AFTER", "smoothed_loss", "stuck_steps", "peak_loss"]
