"""Evaluation: ``python -m panet_min.evaluate`` or ``evaluate(EvalConfig(...))``.

The original protocol (PANet's ``test.py``): ``runs`` = 5 runs of ``episodes`` = 1000 episodes
from the fold's *test* classes; run r draws its episodes with seed ``seed + r`` (base 1234); per run
a :class:`~panet_min.metrics.FewShotMeter` gives the class IoUs, their mean over the fold's test
classes (mean-IoU) and the binary (foreground-background) IoU; the result is the mean and the
standard deviation over the runs (``np.std``, ddof 0, as the original). The split: the original
samples test episodes from ``trainaug`` (VOC layout; ``train`` for COCO), later papers from
``val`` (``--split val``); CamVid uses ``test``. Supports can be dense masks, scribbles or boxes.

The results JSON (schema in ``panet_min/results/README.md``, checked by :func:`validate_results`) holds the
config, the data (description, and its identity when known) and the weights used (description,
training steps and lambda read from the checkpoint, alpha), precision (fp32/bf16), device, per-run
and aggregated numbers, per-class IoU with names, wall time and versions. Its default name carries
the checkpoint's identity (:func:`default_results_path`); an existing file is overwritten only with
``--force``. Mean-IoU follows :class:`~panet_min.metrics.FewShotMeter`'s rule (the mean over the
test classes seen in the run). A chapter evaluates a model on its own episodes with
:func:`evaluate_episodes`. Numbers depend only on (weights, data, config): the same seed gives the
same numbers on any number of workers.
"""
from __future__ import annotations

import argparse
import datetime
import itertools
import json
import math
import platform
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import torch

from .checkpoint import atomic_write_json, load_checkpoint, portable_path, portable_text, seed_everything
from .config import EvalConfig, add_config_arguments
from .data.episodes import TENSOR_KEYS, collate_episodes, episode_loader
from .distributed import parameter_digest
from .metrics import FewShotMeter
from .model import PANet
from .runsetup import (default_split, open_split, precision_context, precision_name, progress_bar,
                       resolve_device, run_command)
from .schema import SCHEMA, validate_results



def checkpoint_identity(checkpoint) -> str:
    """``<run folder>-par`` / ``<run folder>-nopar`` for ``RUN/checkpoint.pt`` of
    :mod:`panet_min.train` (PAR from the checkpoint's ``par_weight``); the file's stem for a
    checkpoint named otherwise or without a config (a plain state dict)."""
    path = Path(checkpoint)
    name = path.parent.name if path.name == "checkpoint.pt" and path.parent.name else path.stem
    ckpt = load_checkpoint(path)
    cfg = ckpt.get("config") if isinstance(ckpt.get("config"), dict) else None
    if cfg is None or "par_weight" not in cfg:
        return name
    return f"{name}-{'par' if float(cfg['par_weight']) > 0 else 'nopar'}"


def default_results_path(config: EvalConfig, split: str) -> Path:
    """``results/<dataset>_fold<f>_<N>way_<K>shot_<annotation>_<split>_<model>.json``, model =
    :func:`checkpoint_identity` of ``config.checkpoint``, or ``notrain-<backbone>``: two
    checkpoints never share a default name."""
    model = checkpoint_identity(config.checkpoint) if config.checkpoint else f"notrain-{config.backbone or 'vgg16'}"
    return Path("results") / (f"{config.dataset}_fold{config.fold}_{config.ways}way_{config.shots}shot_"
                              f"{config.annotation}_{split}_{model}.json")


def load_model_weights(model: PANet, state: dict) -> None:
    """Load a state dict of :class:`PANet` (``encoder.features.N.*``), or an original PANet
    snapshot (``module.encoder...``): then the conv tensors are copied in order, as the
    original's encoder initialisation does."""
    try:
        model.load_state_dict(state)
        return
    except RuntimeError as e:
        error = e
    from .backbone import copy_conv_tensors

    tensors = [v for k, v in state.items() if "encoder" in k and k.endswith(("weight", "bias"))]
    try:
        copy_conv_tensors(model.encoder, tensors)
    except ValueError as e:
        raise ValueError(f"checkpoint does not fit the {getattr(model.encoder, 'name', '')} encoder: {e}; "
                         f"loading it as a panet_min state dict said: {error}") from None


def _build(config: EvalConfig, device: torch.device) -> tuple[PANet, dict]:
    """The model to evaluate and a description of its weights."""
    from .backbone import build_encoder

    ckpt, trained_config, step = None, {}, None
    if config.checkpoint is not None:
        ckpt = load_checkpoint(config.checkpoint)
        trained_config = dict(ckpt["config"]) if isinstance(ckpt.get("config"), dict) else {}
        for key in ("data_root", "out"):
            if trained_config.get(key):
                trained_config[key] = portable_path(trained_config[key])
        step = ckpt.get("step")
    elif not config.no_train:
        raise ValueError("give --checkpoint PATH (a trained model) or --no-train (ImageNet initialisation "
                         "only, the original's 'notrain' experiment)")
    backbone = config.backbone or trained_config.get("backbone", "vgg16")
    # a model trained with another cosine scale is evaluated with it, unless told otherwise
    alpha = config.alpha if config.alpha is not None else float(trained_config.get("alpha", 20.0))
    if trained_config.get("backbone", backbone) != backbone:
        raise ValueError(f"--backbone {backbone} but {config.checkpoint} holds a {trained_config['backbone']} model")
    if ckpt is not None:
        encoder = build_encoder(backbone, None)
        model = PANet(encoder, alpha=alpha, par=False, check_inputs=device.type == "cpu")
        load_model_weights(model, ckpt["model"] if "model" in ckpt else ckpt)
        init = ckpt.get("weights_info", "unknown initialisation")
        info = f"trained by panet_min.train ({step} steps), initialised from: {init}" if step is not None \
            else f"weights from {Path(config.checkpoint).name}"
        encoder.weights_info = info
    else:
        weights = config.weights or ("imagenet" if backbone == "vgg16" else None)
        encoder = build_encoder(backbone, None if weights in ("none", "random") else weights)
        model = PANet(encoder, alpha=alpha, par=False, check_inputs=device.type == "cpu")
    # the weights evaluated, as the training log's ``param_digests`` names them (before any cache wraps the encoder)
    digest = parameter_digest(model)
    model.to(device).eval()
    if config.channels_last:
        model.to(memory_format=torch.channels_last)
    if config.cache_features:  # the same numbers, each distinct image encoded once over all runs
        from .feature_cache import CachedEncoder

        model.encoder = CachedEncoder(model.encoder)
    weights = {"backbone": backbone, "weights_info": model.weights_info, "trained": ckpt is not None,
               "checkpoint": portable_path(config.checkpoint), "checkpoint_step": step, "alpha": alpha,
               "parameter_digest": digest,
               # read from the checkpoint's config (None: not recorded there, or no training)
               "training_steps": step if ckpt is not None else 0,
               "par_weight": (float(trained_config["par_weight"]) if "par_weight" in trained_config else None),
               "trained_config": trained_config or None}
    return model, weights


def _std(values) -> float:
    return float(np.std(values))  # ddof 0, as the original


def _run_episodes(model, episodes, batch_size: int, device, amp: bool, meter: FewShotMeter,
                  workers: int = 0, desc: str = "evaluate", progress: bool = True, on_episode=None) -> int:
    """Record ``episodes`` into ``meter``; returns how many episodes the dataset had redrawn.
    ``on_episode(batch, b, prediction [Q,H,W])`` is called for each episode (``--visualize``)."""
    pin = device.type == "cuda"
    if isinstance(episodes, torch.utils.data.Dataset):
        total = len(episodes)
        batches = episode_loader(episodes, batch_size=batch_size, num_workers=workers, pin_memory=pin)
    else:
        episodes = list(episodes) if isinstance(episodes, (list, tuple)) else episodes
        total = len(episodes) if isinstance(episodes, list) else None
        it = iter(episodes)
        batches = iter(lambda: list(itertools.islice(it, batch_size)), [])
        batches = (collate_episodes(chunk) for chunk in batches)
    redrawn = 0
    bar = progress_bar(total=total, desc=desc, unit="episode", enabled=progress)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), precision_context(device, amp):
            for batch in batches:
                x = {k: batch[k].to(device, non_blocking=pin) for k in TENSOR_KEYS}
                out = model(x["support_images"], x["support_fg"], x["support_bg"], x["query_images"])
                pred = out.logits.argmax(dim=2)  # [B,Q,H,W] episode labels
                for b, ids in enumerate(batch["class_ids"].tolist()):
                    # model outputs and episode labels are valid by construction: no per-episode sync
                    meter.record(pred[b], x["query_labels"][b], ids, check=device.type != "cuda")
                    if on_episode is not None:
                        on_episode(batch, b, pred[b])
                redrawn += sum(int(r) > 0 for r in batch.get("redraws", []))
                bar.update(len(pred))
    finally:
        bar.close()
        model.train(was_training)
    return redrawn


def evaluate_episodes(model: PANet, episodes, batch_size: int = 1, n_classes: int | None = None,
                      amp: bool = False, workers: int = 0, desc: str = "evaluate",
                      progress: bool = True) -> FewShotMeter:
    """Run ``model`` on ``episodes`` and return a :class:`~panet_min.metrics.FewShotMeter` of them.

    ``episodes``: an :class:`~panet_min.data.EpisodeDataset` (read through ``episode_loader``,
    ``workers`` processes) or any iterable of episode dicts (``support_images [N,K,3,H,W]``,
    ``support_fg``/``support_bg [N,K,H,W]``, ``query_images [Q,3,H,W]``, ``query_labels [Q,H,W]``,
    ``class_ids [N]``), batched ``batch_size`` at a time. The model runs in eval mode (restored
    after) under ``torch.inference_mode`` on its own device, bf16 autocast if ``amp``; the
    prediction is the argmax over the 1+N channels. ``n_classes``: the dataset's number of classes (default: that
    of the dataset's source, else 255). A tqdm bar shows when :func:`panet_min.runsetup.show_progress`
    says so and ``progress`` is True. Then ``meter.mean_iou(classes)``, ``meter.binary_iou()``.
    """
    if n_classes is None:
        from .data import n_classes as dataset_classes

        try:
            n_classes = dataset_classes(episodes.source.dataset)
        except (AttributeError, KeyError, ValueError):
            n_classes = 255
    device = next(model.parameters()).device
    meter = FewShotMeter(n_classes)
    _run_episodes(model, episodes, batch_size, device, amp, meter, workers, desc, progress)
    return meter


def _data_identity(dataset: str, root) -> str | None:
    """What pins the data down, when something does: the generator's parameters of a generated
    set, the MSRC manifest checked at preparation; None otherwise."""
    from .data.pascal5i import voc_base

    root = Path(root)
    if dataset == "synthetic":
        for meta in (voc_base(root) / "synthetic.json", root / "synthetic.json"):
            if meta.is_file():
                return "generated by panet_min.data.synthetic: " + json.dumps(json.loads(meta.read_text()),
                                                                              sort_keys=True)
    if dataset == "msrc":
        from .prepare.msrc import is_prepared, manifest_digest

        if any(is_prepared(p) for p in (root, root.parent, root.parent.parent)):
            return f"MSRC-v2, every file sha256-checked against the manifest {manifest_digest()}"
    return None


def check_results_path(out: Path, force: bool) -> None:
    """An existing results file is kept unless ``force``: ValueError naming it and ``--force``."""
    if out.exists() and not force:
        raise ValueError(f"{out} already exists: pass --force (evaluate(..., force=True)) to overwrite it, "
                         "or choose another --out")


def evaluate(config: EvalConfig, force: bool = False) -> dict:
    """Run the protocol; return the results dict (also written to ``config.out`` or
    ``results/<auto>.json``, never over an existing file unless ``force``). See the module
    docstring and ``panet_min/results/README.md``."""
    from .data import EpisodeDataset, class_names, fold_classes, n_classes

    config = EvalConfig.from_dict(config.to_dict())
    t_start = time.perf_counter()
    device = resolve_device(config.device)
    split = config.split or default_split(config.dataset, train=False)
    out = Path(config.out) if config.out else default_results_path(config, split)
    check_results_path(out, force)  # before the work, not after it
    seed_everything(config.seed)  # a randomly initialised model is the same on every call
    model, weights = _build(config, device)
    source, description, data_name = open_split(config.dataset, config.data_root, split)
    classes = fold_classes(config.dataset, config.fold, train=False)
    names = class_names(config.dataset)
    runs = []
    for r in range(config.runs):
        seed = config.seed + r
        seed_everything(seed)
        t_run = time.perf_counter()
        dataset = EpisodeDataset(source, classes, ways=config.ways, shots=config.shots, queries=config.queries,
                                 n_episodes=config.episodes, seed=seed, image_size=config.image_size,
                                 train=False, annotation=config.annotation,
                                 scribble_antialias=config.scribble_antialias,
                                 scribble_dilation=config.scribble_dilation)
        meter = FewShotMeter(n_classes(config.dataset))
        writer = None
        if config.visualize and r == 0:  # run 0: the same episodes for every model
            from .visualize import EpisodeWriter

            note = f"no training ({weights['weights_info'].split(' (')[0]})" if not weights["trained"] else \
                f"trained {weights['training_steps']} steps, " + \
                ("PAR lambda n/a" if weights["par_weight"] is None else f"PAR lambda={weights['par_weight']:g}")
            writer = EpisodeWriter(config.visualize, config.visualize_count, names, n_classes(config.dataset),
                                   note=textwrap.shorten(note, 90))
        redrawn = _run_episodes(model, dataset, config.batch_size, device, config.amp, meter, config.workers,
                                desc=f"run {r + 1}/{config.runs}", on_episode=writer)
        if writer is not None:
            print(f"--visualize: {len(writer.written)} episodes drawn into {config.visualize}", flush=True)
        if not meter.seen(classes):
            raise ValueError(f"run {r}: no test class appeared in any query ({config.episodes} episodes)")
        class_iou, mean_iou = meter.mean_iou(classes)  # the mean over the classes seen (FewShotMeter)
        binary, binary_mean = meter.binary_iou()
        runs.append({"seed": seed, "mean_iou": mean_iou, "binary_iou": binary_mean,
                     "class_iou": {str(c): (None if math.isnan(v) else v) for c, v in zip(classes, class_iou)},
                     "binary_class_iou": binary, "unseen_classes": [c for c, v in zip(classes, class_iou)
                                                                     if math.isnan(v)],
                     "n_queries": meter.n_records, "redrawn_episodes": redrawn,
                     "wall_time_s": time.perf_counter() - t_run})
        print(f"run {r + 1}/{config.runs} (seed {seed}): mean-IoU {runs[-1]['mean_iou']:.4f}  "
              f"binary IoU {binary_mean:.4f}", flush=True)

    per_class = []
    for c in classes:
        values = [run["class_iou"][str(c)] for run in runs if run["class_iou"][str(c)] is not None]
        per_class.append({"id": c, "name": names[c - 1], "mean": float(np.mean(values)) if values else None,
                          "std": _std(values) if values else None, "n_runs": len(values)})
    mious, bious = [run["mean_iou"] for run in runs], [run["binary_iou"] for run in runs]
    results = {
        "schema": SCHEMA,
        "config": {**config.to_dict(), "data_root": portable_path(config.data_root),
                   "checkpoint": portable_path(config.checkpoint), "out": portable_path(config.out)},
        "data": {"dataset": data_name, "description": portable_text(description),
                 "identity": _data_identity(data_name, source.root if hasattr(source, "root") else "."),
                 "split": split, "fold": config.fold,
                 "test_classes": classes, "class_names": [names[c - 1] for c in classes],
                 "annotation": config.annotation},
        "model": weights,
        "protocol": {"ways": config.ways, "shots": config.shots, "queries": config.queries,
                     "runs": config.runs, "episodes": config.episodes, "seeds": [run["seed"] for run in runs],
                     "image_size": config.image_size,
                     "metric": "FewShotMeter (official Metric, vectorised; mean-IoU over the classes seen)"},
        "runs": runs,
        "mean_iou": {"mean": float(np.mean(mious)), "std": _std(mious)},
        "binary_iou": {"mean": float(np.mean(bious)), "std": _std(bious)},
        "class_iou": per_class,
        "wall_time_s": time.perf_counter() - t_start,
        "device": (torch.cuda.get_device_name(device) if device.type == "cuda"
                   else f"cpu ({platform.processor() or platform.machine()})"),
        "precision": precision_name(config.amp), "amp": config.amp, "batch_size": config.batch_size,
        "torch_version": torch.__version__,
        "panet_min_version": _version(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    validate_results(results)
    check_results_path(out, force)  # a file another evaluation wrote meanwhile is kept too
    atomic_write_json(results, out)
    print(f"mean-IoU {results['mean_iou']['mean']:.4f} +- {results['mean_iou']['std']:.4f}  binary IoU "
          f"{results['binary_iou']['mean']:.4f} +- {results['binary_iou']['std']:.4f}  -> {out}", flush=True)
    return results


def _version() -> str:
    from . import __version__
    return __version__



def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m panet_min.evaluate", description=__doc__.split("\n\n")[0])
    add_config_arguments(parser, EvalConfig)
    parser.add_argument("--force", action="store_true", help="overwrite an existing results file")
    args = vars(parser.parse_args(argv))
    force = args.pop("force", False)
    return run_command(parser.prog, lambda: evaluate(EvalConfig(**args), force=force))


if __name__ == "__main__":
    sys.exit(main())
