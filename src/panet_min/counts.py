"""The per-episode counts kept beside every results JSON, and an evaluation's work in progress.

``NAME.json`` (the protocol's numbers) has a sibling ``NAME.npz`` holding what its metric summed,
per run r and episode e, so that two settings evaluated on the same episodes can be compared with
a paired bootstrap (:mod:`panet_min.stats`):

- ``class_ids [R,E,N]``: the episode's ways (global class ids);
- ``counts [R,E,3,1+N]``: TP, FP, FN of the background (label 0) and of each way, summed over the
  episode's queries (the smallest unsigned integer type that holds them);
- ``distances [R,E,3,N]`` (when measured): Euclidean and cosine distance between each way's support
  prototype and the query's own prototype (NaN where no query shows the way), and the cosine distance
  between the way's support prototype and the background prototype (float32: the Euclidean distance of
  a training that got stuck passes float16's largest value, 65504);
- ``empty_supports [R]``: weak supports that came out empty in each run.

An evaluation writes ``NAME.partial.json`` / ``NAME.partial.npz`` after each finished run, and an
interrupted one resumes from them (:func:`load_partial`); both go when the results are written.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .checkpoint import atomic_write_bytes, atomic_write_json, read_json


def counts_path(results_path) -> Path:
    """``NAME.npz`` beside ``NAME.json``."""
    return Path(results_path).with_suffix(".npz")


def _partial(results_path) -> tuple[Path, Path]:
    p = Path(results_path)
    return p.with_name(p.stem + ".partial.json"), p.with_name(p.stem + ".partial.npz")


def _compact(arrays: dict) -> dict:
    out = {}
    for key, value in arrays.items():
        value = np.asarray(value)
        if key == "counts":
            value = value.astype(np.min_scalar_type(int(value.max()) if value.size else 0))
        elif key == "class_ids":
            value = value.astype(np.uint8 if value.size == 0 or value.max() < 256 else np.uint16)
        elif key == "distances":
            value = value.astype(np.float32)
        out[key] = value
    return out


def _write_npz(path: Path, arrays: dict) -> Path:
    return atomic_write_bytes(path, lambda f: np.savez_compressed(f, **_compact(arrays)))


def save_counts(results_path, arrays: dict) -> Path:
    """Write ``arrays`` (``class_ids``, ``counts``, optionally ``distances``, ``empty_supports``) as
    the ``.npz`` beside ``results_path``, atomically."""
    return _write_npz(counts_path(results_path), arrays)


def read_counts(results_path) -> dict:
    """The arrays of the ``.npz`` beside ``results_path`` (int64 counts, float32 distances); a missing
    or damaged file -> ValueError naming it."""
    path = counts_path(results_path)
    if not path.is_file():
        raise ValueError(f"{path} is missing: the per-episode counts of {Path(results_path).name} "
                         "(evaluations before they were kept have none; evaluate again)")
    try:
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read {path}: {e}") from None
    arrays["counts"] = arrays["counts"].astype(np.int64)
    arrays["class_ids"] = arrays["class_ids"].astype(np.int64)
    if "distances" in arrays:
        arrays["distances"] = arrays["distances"].astype(np.float32)
    return arrays


def load_counts(results_path, results: dict | None = None):
    """:class:`panet_min.stats.EpisodeCounts` of one evaluation (``results``: its JSON, read from
    ``results_path`` when not given)."""
    from .data import n_classes
    from .stats import EpisodeCounts

    results = read_json(results_path, "results file") if results is None else results
    arrays = read_counts(results_path)
    return EpisodeCounts(arrays["class_ids"], arrays["counts"], list(results["data"]["test_classes"]),
                         n_classes(results["data"]["dataset"]))


def save_partial(results_path, state: dict, arrays: dict) -> None:
    """The finished runs of an evaluation under way (``state``: JSON-able, with ``config``,
    ``parameter_digest`` and ``runs``; ``arrays``: the counts of those runs)."""
    js, npz = _partial(results_path)
    _write_npz(npz, arrays)
    atomic_write_json(state, js)  # last: a state file always has its arrays


def load_partial(results_path, config: dict, digest: str) -> tuple[list, dict] | None:
    """``(runs, arrays)`` of an interrupted evaluation of the same config and weights, else None
    (no partial files, or they belong to other settings)."""
    js, npz = _partial(results_path)
    if not (js.is_file() and npz.is_file()):
        return None
    state = read_json(js, "partial results")
    if state.get("config") != config or state.get("parameter_digest") != digest:
        return None
    try:
        with np.load(npz) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError):
        return None
    n = len(state["runs"])  # a kill between the two writes leaves the arrays one run ahead
    if any(len(v) < n for v in arrays.values()):
        return None
    return state["runs"], {k: v[:n] for k, v in arrays.items()}


def remove_partial(results_path) -> None:
    for path in _partial(results_path):
        path.unlink(missing_ok=True)


__all__ = ["counts_path", "save_counts", "read_counts", "load_counts", "save_partial", "load_partial",
           "remove_partial"]
