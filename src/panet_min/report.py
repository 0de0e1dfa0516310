"""Results tables for the book (chapter 10): read ``results/*.json``, build Markdown tables.

Every cell comes from a field the evaluation recorded (:mod:`panet_min.evaluate`, schema in
``panet_min/results/README.md``); nothing is inferred from a file name, a dataset name or a description.
A field older files lack is shown as "n/a", never guessed.

- :func:`load_results` -> ``[(file name, results dict)]`` (validated) and the files rejected
- :func:`describe` -> the facts of one result (data, split, fold, episode, weights, lambda, ...)
- :func:`setting` -> "1-shot, PAR (lambda=1)" / "1-shot, no PAR (lambda=0)" / "1-shot, no training"
- :func:`experiment` -> "no training" | "trained" | "no PAR" | "stuff as training" | "strict"
- :func:`by_experiment` -> ``{fold: {experiment: result}}``, one result each
- :func:`load_curve` -> the evaluated intermediate checkpoints of each training run (``curve/*.json``)
- :func:`training_log` -> the shipped ``log.jsonl`` of the run a result evaluated; :func:`training_runs`, :func:`training_table`
- :func:`find` -> the results matching given recorded facts
- :func:`summary_table` (mean ± std over runs), :func:`class_iou_table`, :func:`binary_iou_table`
"""
from __future__ import annotations

import json
from pathlib import Path

from .schema import validate_results
from .viz.curves import MISSING, format_score, markdown_table, read_log, series


def book_results_dir() -> Path:
    """The results the book shows, shipped inside the package (``panet_min/results``), so that a
    chapter opened alone after ``pip install`` finds them."""
    from importlib import resources

    return Path(str(resources.files("panet_min") / "results"))


def load_results(results_dir=None, skip=("gpu_summary.json",)) -> tuple[list[tuple[str, dict]], list[tuple[str, str]]]:
    """The valid results JSON files of ``results_dir`` sorted by name, as ``[(name, dict)]``, and
    ``[(name, why)]`` for the files that are not JSON or do not follow the schema (first 2 lines
    of the reason). ``results_dir`` None: :func:`book_results_dir`. ``skip``: not results."""
    results, rejected = [], []
    results_dir = book_results_dir() if results_dir is None else Path(results_dir)
    for path in sorted(results_dir.glob("*.json")):
        if path.name in skip:
            continue
        try:
            results.append((path.name, validate_results(json.loads(path.read_text()))))
        except ValueError as err:  # json.JSONDecodeError is one too
            rejected.append((path.name, " ".join(str(err).splitlines()[:2])))
    return results, rejected


def _trained_config(r: dict) -> dict:
    return r["model"].get("trained_config") or {}


def par_weight(r: dict) -> float | None:
    """lambda of the evaluated checkpoint: ``model.par_weight``, else the checkpoint's stored
    config; None without training or when not recorded."""
    if not r["model"]["trained"]:
        return None
    lam = r["model"].get("par_weight")
    return float(lam) if lam is not None else _trained_config(r).get("par_weight")


def training_steps(r: dict) -> int | None:
    """Steps the evaluated model was trained: 0 without training; None when not recorded."""
    if not r["model"]["trained"]:
        return 0
    steps = r["model"].get("training_steps")
    return steps if steps is not None else r["model"].get("checkpoint_step")


def train_seed(r: dict) -> int | None:
    """The ``--seed`` the evaluated model was trained with; None without training or when not recorded."""
    return _trained_config(r).get("seed") if r["model"]["trained"] else None


def precision(r: dict) -> str:
    """"fp32" or "bf16": the recorded ``precision``, else from the recorded ``amp`` switch."""
    if r.get("precision"):
        return r["precision"]
    return "bf16" if r.get("amp") else "fp32"


FACTS = ("dataset", "data", "identity", "split", "fold", "ways", "shots", "annotation", "trained", "par",
         "steps", "train_seed", "backbone", "weights", "alpha", "device", "precision", "protocol", "experiment")

# The experiments of chapter 10, in the order the tables show them.
EXPERIMENTS = ("no training", "trained", "no PAR", "stuff as training", "strict")


def experiment(r: dict) -> str:
    """Which of :data:`EXPERIMENTS` a result belongs to, from its recorded training config: the
    protocol options first (``stuff_as_training``, ``strict``), then PAR (lambda > 0: "trained",
    lambda = 0: "no PAR"). A trained result without a recorded lambda -> ValueError."""
    if not r["model"]["trained"]:
        return "no training"
    cfg = _trained_config(r)
    if cfg.get("stuff_as_training"):
        return "stuff as training"
    if cfg.get("strict"):
        return "strict"
    lam = par_weight(r)
    if lam is None:
        raise ValueError("a trained result without a recorded lambda (par_weight) has no experiment")
    return "trained" if lam > 0 else "no PAR"


def describe(r: dict) -> dict:
    """The facts (:data:`FACTS`) a table row needs, from one results dict (recorded fields only)."""
    model, data, prot = r["model"], r["data"], r["protocol"]
    return {"dataset": data["dataset"], "data": data["description"], "identity": data.get("identity"),
            "split": data["split"], "fold": data["fold"], "ways": prot["ways"], "shots": prot["shots"],
            "annotation": data["annotation"], "trained": model["trained"], "par": par_weight(r),
            "steps": training_steps(r), "train_seed": train_seed(r), "backbone": model["backbone"], "weights": model["weights_info"],
            "alpha": model.get("alpha"), "device": r["device"], "precision": precision(r),
            "protocol": f"{prot['runs']} x {prot['episodes']} @ {prot['image_size']}",
            "experiment": experiment(r) if not model["trained"] or par_weight(r) is not None else None}


def setting(r: dict) -> str:
    """"<K>-shot, no training" | "<K>-shot, PAR (lambda=<l>)" | "<K>-shot, no PAR (lambda=0)"
    (lambda not recorded: "lambda n/a")."""
    d = describe(r)
    if not d["trained"]:
        what = "no training"
    elif d["par"] is None:
        what = f"lambda {MISSING}"
    else:
        what = f"PAR (lambda={d['par']:g})" if d["par"] > 0 else "no PAR (lambda=0)"
    return f"{d['shots']}-shot, {what}"


def find(results, **facts) -> list[tuple[str, dict]]:
    """The ``(name, dict)`` of ``results`` whose :func:`describe` matches every given fact,
    e.g. ``find(results, dataset="pascal", shots=1, fold=0, trained=True)``. ``par=True`` /
    ``par=False`` select lambda > 0 / lambda == 0 (a result with lambda not recorded matches
    neither). Unknown fact names -> ValueError."""
    known = set(FACTS)
    unknown = sorted(set(facts) - known)
    if unknown:
        raise ValueError(f"unknown fact(s) {unknown}; describe() gives {sorted(known)}")
    out = []
    for name, r in results:
        d = describe(r)
        ok = True
        for key, want in facts.items():
            if key == "par" and isinstance(want, bool):
                ok &= d["par"] is not None and (d["par"] > 0) == want
            else:
                ok &= d[key] == want
        if ok:
            out.append((name, r))
    return out


def by_experiment(results, train_seed: int | None = None, **facts) -> dict[int, dict[str, dict]]:
    """``{fold: {experiment: results dict}}`` of the results matching ``facts`` (as :func:`find`).
    ``train_seed``: keep the trained models of that training seed only (the untrained model has
    none and is always kept); None: all. Two results of one fold and experiment are ambiguous ->
    ValueError naming both files."""
    table, names = {}, {}
    for name, r in find(results, **facts):
        d = describe(r)
        if train_seed is not None and d["trained"] and d["train_seed"] != train_seed:
            continue
        key = (d["fold"], d["experiment"])
        if key in names:
            raise ValueError(f"{names[key]} and {name} are both fold {key[0]}, {key[1]!r}: keep one")
        names[key] = name
        table.setdefault(d["fold"], {})[d["experiment"]] = r
    return dict(sorted(table.items()))


def load_curve(results_dir=None) -> list[dict]:
    """The training curves: each ``curve/*.json`` (an evaluation of an intermediate checkpoint,
    ``evaluate --checkpoint RUN/step-NNNNN.pt``) as ``{"dataset", "fold", "shots", "experiment",
    "step", "mean_iou", "seed", "file"}``, ``mean_iou`` of its first run; sorted by experiment and
    step. ``results_dir`` None: :func:`book_results_dir`. A file that does not follow the schema ->
    ValueError naming it."""
    folder = (book_results_dir() if results_dir is None else Path(results_dir)) / "curve"
    points = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            r = validate_results(json.loads(path.read_text()))
        except ValueError as err:
            raise ValueError(f"{path.name}: {err}") from None
        d = describe(r)
        points.append({"dataset": d["dataset"], "fold": d["fold"], "shots": d["shots"],
                       "experiment": d["experiment"], "step": d["steps"], "mean_iou": r["runs"][0]["mean_iou"],
                       "seed": r["runs"][0]["seed"], "file": path.name})
    return sorted(points, key=lambda p: (p["dataset"], p["fold"], p["experiment"] or "", p["step"] or 0))


def training_log(r: dict, results_dir=None) -> list[dict] | None:
    """The ``log.jsonl`` records of the training run that produced ``r``, as shipped beside the
    results (``runs/<run folder>/log.jsonl``, the folder of the recorded ``model.checkpoint``);
    None without training or when the log is not there. A log whose final weights are not the
    ones evaluated (both digests recorded, and different) -> ValueError."""
    if not r["model"]["trained"] or not r["model"].get("checkpoint"):
        return None
    folder = (book_results_dir() if results_dir is None else Path(results_dir)) / "runs"
    path = folder / Path(r["model"]["checkpoint"]).parent.name / "log.jsonl"
    if not path.is_file():
        return None
    records = read_log(path)
    ends = [e for e in records if e.get("event") == "end"]
    digest = r["model"].get("parameter_digest")
    if digest and ends and r["model"].get("checkpoint_step") == ends[-1].get("step") \
            and digest not in ends[-1].get("param_digests", []):
        raise ValueError(f"{path}: its final weights are not the evaluated ones (parameter digests differ)")
    return records


def last_logged(records: list[dict], key: str = "query_loss") -> float | None:
    """``key`` of the last line of a training log that carries it (a loss is the mean over the
    steps since the line before); None when no line does."""
    values = _logged_values(records, key)
    return values[-1] if values else None


def _logged_values(records, key: str) -> list[float]:
    return series(records, key)[1].tolist() if any(key in e for e in records) else []


def training_runs(results, results_dir=None) -> list[tuple[dict, dict, list[dict]]]:
    """``(describe(r), r, log records)`` of each trained result whose training log is shipped
    (:func:`training_log`), sorted by fold, experiment (:data:`EXPERIMENTS` order) and seed."""
    runs = []
    for _, r in results:
        records = training_log(r, results_dir)
        if records is not None:
            runs.append((describe(r), r, records))
    order = lambda e: EXPERIMENTS.index(e) if e in EXPERIMENTS else len(EXPERIMENTS)
    return sorted(runs, key=lambda run: (run[0]["fold"], order(run[0]["experiment"]), run[0]["train_seed"] or 0))


TRAINING_HEADER = ("fold", "experiment", "training seed", "query loss at the start", "query loss at the end",
                   "prototype distance at the end", "mean-IoU (%)")


def training_table(results, results_dir=None) -> str:
    """One row per run of :func:`training_runs`: fold, experiment, training seed, the query loss
    (L_seg) of the log's first and last lines (each the mean over the steps since the line
    before), the last logged ``proto_dist`` (support vs query foreground prototype,
    :mod:`panet_min.train`) and the mean-IoU (mean ± std over runs)."""
    num = lambda x, fmt: MISSING if x is None else format(x, fmt)
    rows = []
    for d, r, records in training_runs(results, results_dir):
        loss = _logged_values(records, "query_loss")
        rows.append([d["fold"], d["experiment"], num(d["train_seed"], "d"), num(loss[0] if loss else None, ".2f"),
                     num(last_logged(records), ".2f"), num(last_logged(records, "proto_dist"), ",.0f"),
                     _score(r["mean_iou"])])
    return markdown_table(TRAINING_HEADER, rows)


def _score(agg: dict | None) -> str:
    return format_score(agg["mean"], agg["std"]) if agg else MISSING


SUMMARY_HEADER = ("setting", "mean-IoU (%)", "binary IoU (%)", "training steps", "data", "split", "fold",
                  "support", "weights", "runs x episodes @ size", "device", "file")


def summary_table(results) -> str:
    """One row per result: its setting, mean-IoU and binary IoU as mean ± std over its runs (in
    percent), training steps, data description, split, fold, support annotation, weights, protocol,
    device and precision, file name."""
    rows = []
    for name, r in results:
        d = describe(r)
        rows.append([setting(r), _score(r["mean_iou"]), _score(r["binary_iou"]), d["steps"], d["data"],
                     d["split"], d["fold"], d["annotation"], d["weights"], d["protocol"],
                     f"{d['device']}, {d['precision']}", name])
    return markdown_table(SUMMARY_HEADER, rows)


def class_iou_table(results) -> str:
    """Per-class IoU (%), mean ± std over the runs where the class appeared: one row per result,
    one column per test class. The results must share their test classes (else ValueError)."""
    if not results:
        return markdown_table(["setting", "file"], [])
    names = results[0][1]["data"]["class_names"]
    rows = []
    for name, r in results:
        if r["data"]["class_names"] != names:
            raise ValueError(f"{name} has test classes {r['data']['class_names']}, {results[0][0]} has {names}: "
                             "one table per class set")
        rows.append([setting(r), *(format_score(c["mean"], c["std"]) for c in r["class_iou"]), name])
    return markdown_table(["setting", *names, "file"], rows)


def difference(a: dict, b: dict) -> dict:
    """``b - a`` of two ``{"mean", "std"}`` scores (fractions) in percentage points:
    ``{"points", "noise", "beyond_noise"}``, the noise being the larger of the two std over runs
    and the difference beyond it when ``|b - a| > 2 noise``. With one training seed, a difference
    within that is test noise, not an effect."""
    points = 100 * (b["mean"] - a["mean"])
    noise = 100 * max(a["std"], b["std"])
    return {"points": points, "noise": noise, "beyond_noise": abs(points) > 2 * noise}


def _mean_std(values) -> dict | None:
    import numpy as np

    values = [v for v in values if v is not None]
    return {"mean": float(np.mean(values)), "std": float(np.std(values))} if values else None


def binary_iou_table(results) -> str:
    """Binary (foreground-background) IoU (%): background IoU, foreground IoU (from each run's
    ``binary_class_iou``) and their mean, each mean ± std over the runs; one row per result."""
    rows = []
    for name, r in results:
        per_run = [run.get("binary_class_iou") or [None, None] for run in r["runs"]]
        rows.append([setting(r), _score(_mean_std(b[0] for b in per_run)), _score(_mean_std(b[1] for b in per_run)),
                     _score(r["binary_iou"]), name])
    return markdown_table(["setting", "background IoU (%)", "foreground IoU (%)", "binary IoU (%)", "file"], rows)


__all__ = ["load_results", "load_curve", "by_experiment", "describe", "setting", "experiment", "EXPERIMENTS", "find",
           "par_weight", "training_steps", "train_seed", "precision", "difference", "training_log", "last_logged",
           "training_runs", "training_table",
           "summary_table", "class_iou_table", "binary_iou_table"]
