"""The results file: what every ``python -m panet_min.evaluate`` JSON holds, checked in one place.

:func:`validate_results` is the schema of ``panet_min/results/README.md`` as code: the evaluation
writes nothing else, and the book (``panet_min.report``) reads nothing else.
"""
from __future__ import annotations

from .config import BACKBONES

SCHEMA = "panet_min.results/1"


def _iou_or_none(x) -> bool:
    return x is None or (isinstance(x, (int, float)) and not isinstance(x, bool) and 0.0 <= x <= 1.0)


def validate_results(d: dict) -> dict:
    """Check a results dict against the schema of ``panet_min/results/README.md``; returns it, or raises
    ValueError listing every problem (chapters call this before they plot a JSON)."""
    problems = []

    def need(obj, key, kind, where):
        if not isinstance(obj, dict) or key not in obj:
            problems.append(f"{where}: missing '{key}'")
            return None
        if not isinstance(obj[key], kind) or isinstance(obj[key], bool) and kind in (int, float, (int, float)):
            expected = getattr(kind, "__name__", "number")
            problems.append(f"{where}.{key}: expected {expected}, got {type(obj[key]).__name__}")
            return None
        return obj[key]

    if not isinstance(d, dict):
        raise ValueError(f"results must be a dict, got {type(d).__name__}")
    if d.get("schema") != SCHEMA:
        problems.append(f"schema: expected {SCHEMA!r}, got {d.get('schema')!r}")
    for key in ("config", "data", "model", "protocol"):
        need(d, key, dict, "results")
    data, protocol, model = d.get("data", {}), d.get("protocol", {}), d.get("model", {})
    for key, kind in (("dataset", str), ("description", str), ("split", str), ("fold", int),
                      ("test_classes", list), ("class_names", list), ("annotation", str)):
        need(data, key, kind, "data")
    for key, kind in (("ways", int), ("shots", int), ("queries", int), ("runs", int), ("episodes", int),
                      ("seeds", list), ("image_size", int)):
        need(protocol, key, kind, "protocol")
    for key, kind in (("backbone", str), ("weights_info", str), ("trained", bool)):
        need(model, key, kind, "model")
    if model.get("backbone") not in BACKBONES:
        problems.append(f"model.backbone: {model.get('backbone')!r} is not one of {BACKBONES}")
    runs = need(d, "runs", list, "results") or []
    if isinstance(protocol.get("runs"), int) and len(runs) != protocol["runs"]:
        problems.append(f"runs: {len(runs)} entries but protocol.runs = {protocol['runs']}")
    classes = [str(c) for c in data.get("test_classes", [])]
    for i, run in enumerate(runs):
        for key in ("mean_iou", "binary_iou"):
            if not _iou_or_none(need(run, key, (int, float), f"runs[{i}]")):
                problems.append(f"runs[{i}].{key} outside [0, 1]")
        need(run, "seed", int, f"runs[{i}]")
        class_iou = need(run, "class_iou", dict, f"runs[{i}]") or {}
        if sorted(class_iou) != sorted(classes):
            problems.append(f"runs[{i}].class_iou: keys {sorted(class_iou)} differ from the test classes {classes}")
        if not all(_iou_or_none(v) for v in class_iou.values()):
            problems.append(f"runs[{i}].class_iou: values must be IoUs in [0, 1] or null")
    for key in ("mean_iou", "binary_iou"):
        agg = need(d, key, dict, "results") or {}
        for stat in ("mean", "std"):
            if not _iou_or_none(need(agg, stat, (int, float), key)):
                problems.append(f"{key}.{stat} outside [0, 1]")
    per_class = need(d, "class_iou", list, "results") or []
    if [str(c.get("id")) for c in per_class if isinstance(c, dict)] != classes:
        problems.append("class_iou: ids must list the test classes in order")
    for c in per_class:
        if not (isinstance(c, dict) and isinstance(c.get("name"), str) and _iou_or_none(c.get("mean"))
                and _iou_or_none(c.get("std"))):
            problems.append(f"class_iou entry {c!r}: needs id, name, mean and std in [0, 1]")
    for key, kind in (("wall_time_s", (int, float)), ("device", str), ("torch_version", str),
                      ("panet_min_version", str), ("date", str)):
        need(d, key, kind, "results")
    # recorded since results describe themselves; absent from older files, checked when present
    if "precision" in d and d["precision"] not in ("fp32", "bf16"):
        problems.append(f"precision: expected 'fp32' or 'bf16', got {d['precision']!r}")
    if data.get("identity") is not None and not isinstance(data.get("identity"), str):
        problems.append("data.identity: expected str or null")
    steps = model.get("training_steps")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 0):
        problems.append(f"model.training_steps: expected a non-negative int or null, got {steps!r}")
    digest = model.get("parameter_digest")
    if digest is not None and not (isinstance(digest, str) and len(digest) == 64):
        problems.append(f"model.parameter_digest: expected a sha256 hex string or null, got {digest!r}")
    lam = model.get("par_weight")
    if lam is not None and (isinstance(lam, bool) or not isinstance(lam, (int, float)) or lam < 0):
        problems.append(f"model.par_weight: expected a non-negative number or null, got {lam!r}")
    if problems:
        raise ValueError("results do not follow the schema (panet_min/results/README.md):\n  " + "\n  ".join(problems))
    return d


__all__ = ["SCHEMA", "validate_results"]
