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
import itertools
import math
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from .checkpoint import atomic_write_json, load_checkpoint, portable_path, portable_text, seed_everything
from .config import EvalConfig, add_config_arguments
from .counts import load_partial, remove_partial, save_counts, save_partial
from .data.episodes import TENSOR_KEYS, collate_episodes, episode_loader
from .diagnostics import prototype_distances, query_prototypes
from .distributed import parameter_digest
from .loading import (check_compatible, checkpoint_config, checkpoint_weights_info, load_model_weights, model_state,
                      to_device)
from .metrics import FewShotMeter
from .model import PANet, predict
from .runsetup import (default_split, machine, open_split, precision_context, progress_bar, resolve_device,
                       resolve_precision, run_command)
from .records import check_results_path, data_identity, default_results_path, summary, weak_description
from .schema import validate_results



def build_for_evaluation(config: EvalConfig, device: torch.device, test_classes) -> tuple[PANet, dict]:
    """The model to evaluate and a description of its weights. A checkpoint trained on another
    dataset, or on a class under test, is refused (:func:`panet_min.loading.check_compatible`)."""
    from .backbone import build_encoder

    ckpt, trained_config, step = None, {}, None
    if config.checkpoint is not None:
        ckpt = load_checkpoint(config.checkpoint)
        trained_config = checkpoint_config(ckpt, config.checkpoint) or {}
        check_compatible(trained_config, config.dataset, test_classes, config.checkpoint,
                         allow_overlap=config.allow_class_overlap)
        trained_config = dict(trained_config)
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
    precision = resolve_precision(config.precision, device, config.amp)
    weak = config.annotation != "mask"  # a weak support may come out empty: a zero prototype, as the original
    if ckpt is not None:
        encoder = build_encoder(backbone, None)
        model = PANet(encoder, alpha=alpha, par=False, check_inputs=device.type == "cpu", allow_empty_support=weak)
        load_model_weights(model, model_state(ckpt, config.checkpoint))
        encoder.weights_info = checkpoint_weights_info(ckpt, config.checkpoint)
    else:
        weights = config.weights or ("imagenet" if backbone == "vgg16" else None)
        encoder = build_encoder(backbone, None if weights in ("none", "random") else weights)
        model = PANet(encoder, alpha=alpha, par=False, check_inputs=device.type == "cpu", allow_empty_support=weak)
    # the weights evaluated, as the training log's ``param_digests`` names them (before any cache wraps the encoder)
    digest = parameter_digest(model)
    to_device(model, device, config.channels_last or precision == "bf16").eval()
    if config.cache_features:  # the same numbers, each distinct image encoded once over all runs
        from .feature_cache import CachedEncoder

        model.encoder = CachedEncoder(model.encoder)
    weights = {"backbone": backbone, "weights_info": model.weights_info, "trained": ckpt is not None,
               "checkpoint": portable_path(config.checkpoint), "checkpoint_step": step, "alpha": alpha,
               "parameter_digest": digest,
               # read from the checkpoint's config (None: not recorded there, or no training)
               "training_steps": step if ckpt is not None else 0,
               "par_weight": (float(trained_config["par_weight"]) if "par_weight" in trained_config else None),
               "trained_config": trained_config or None,
               "class_overlap_allowed": bool(config.allow_class_overlap)}
    return model, weights


def _run_episodes(model, episodes, batch_size: int, device, precision: str, meter: FewShotMeter,
                  workers: int = 0, desc: str = "evaluate", progress: bool = True, on_episode=None,
                  distances: list | None = None) -> dict:
    """Record ``episodes`` into ``meter``; returns ``{"redrawn", "empty_supports"}``: episodes the
    dataset redrew (a dense support lost its class in the resize) and weak supports that came out
    empty. ``on_episode(batch, b, prediction [Q,H,W])`` is called for each episode (``--visualize``).
    ``distances``: a list that receives, per episode, ``[3, N]`` (:func:`_distances`)."""
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
    counted = {"redrawn": 0, "empty_supports": 0}
    bar = progress_bar(total=total, desc=desc, unit="episode", enabled=progress)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), precision_context(device, precision):
            for batch in batches:
                x = {k: batch[k].to(device, non_blocking=pin) for k in TENSOR_KEYS}
                out = model(x["support_images"], x["support_fg"], x["support_bg"], x["query_images"])
                pred = predict(out.logits)  # [B,Q,H,W] episode labels
                if distances is not None:
                    distances.extend(_distances(model, x, out).cpu().numpy())
                for b, ids in enumerate(batch["class_ids"].tolist()):
                    # model outputs and episode labels are valid by construction: no per-episode sync
                    meter.record(pred[b], x["query_labels"][b], ids, check=device.type != "cuda")
                    if on_episode is not None:
                        on_episode(batch, b, pred[b])
                counted["redrawn"] += sum(int(r) > 0 for r in batch.get("redraws", []))
                counted["empty_supports"] += sum(int(e) for e in batch.get("empty_supports", []))
                bar.update(len(pred))
    finally:
        bar.close()
        model.train(was_training)
    return counted


def _distances(model, x: dict, out) -> torch.Tensor:
    """``[B, 3, N]``: Euclidean and cosine distance (1 - cos) of each way's support prototype to the
    query's own prototype (pooled with the true mask; NaN where no query shows the way), and the
    cosine distance of the way's support prototype to the background prototype (the contrast the
    classifier works with: an alignment is only as good as it is small next to it)."""
    B, Q = x["query_images"].shape[:2]
    bg, fg = out.prototypes
    feats = model.encoder(x["query_images"].flatten(0, 1)).float()  # a cache hit with --cache-features
    protos, present = query_prototypes(feats.reshape(B, Q, *feats.shape[1:]), x["query_labels"], fg.shape[1])
    euclid, cosine = prototype_distances(fg, protos)
    _, contrast = prototype_distances(fg, bg.unsqueeze(1).expand_as(fg))
    nan = torch.full_like(euclid, float("nan"))
    return torch.stack([torch.where(present, euclid, nan), torch.where(present, cosine, nan), contrast], 1)


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
    _run_episodes(model, episodes, batch_size, device, "bf16" if amp else "fp32", meter, workers, desc, progress)
    return meter


def evaluate(config: EvalConfig, force: bool = False, built: tuple[PANet, dict] | None = None) -> dict:
    """Run the protocol; return the results dict (also written to ``config.out`` or
    ``results/<auto>.json``, never over an existing file unless ``force``), with the per-episode
    counts beside it (:mod:`panet_min.counts`). Each finished run is saved as it ends, and an
    interrupted evaluation of the same settings resumes from there. ``built``: the ``(model,
    weights)`` of :func:`build_for_evaluation` for this config's weights, to share one feature cache
    between evaluations of one model. See the module docstring and ``panet_min/results/README.md``."""
    from .data import EpisodeDataset, class_names, fold_classes, n_classes

    config = EvalConfig.from_dict(config.to_dict())
    t_start = time.perf_counter()
    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device, config.amp)
    split = config.split or default_split(config.dataset, train=False)
    out = Path(config.out) if config.out else default_results_path(config, split)
    check_results_path(out, force)  # before the work, not after it
    classes = fold_classes(config.dataset, config.fold, train=False)
    seed_everything(config.seed)  # a randomly initialised model is the same on every call
    model, weights = built if built is not None else build_for_evaluation(config, device, classes)
    model.allow_empty_support = config.annotation != "mask"
    source, description, data_name = open_split(config.dataset, config.data_root, split)
    if hasattr(source, "scribble_seed"):  # scribbles made by the robot (MSRC): which ones
        source.scribble_seed = config.scribble_seed
    if config.cache_features:  # then memory is spent anyway: each image also decoded and resized once
        source.resized_cache = {}
    names = class_names(config.dataset)
    recorded_config = {**config.to_dict(), "data_root": portable_path(config.data_root),
                       "checkpoint": portable_path(config.checkpoint), "out": portable_path(config.out)}
    runs, arrays = [], {"class_ids": [], "counts": [], "distances": [], "empty_supports": []}
    resumed = load_partial(out, recorded_config, weights["parameter_digest"])
    if resumed is not None:
        runs, saved = resumed
        arrays = {k: list(saved[k]) for k in arrays if k in saved} | {k: [] for k in arrays if k not in saved}
        print(f"resuming {out}: {len(runs)} of {config.runs} runs already done", flush=True)
    for r in range(len(runs), config.runs):
        seed = config.seed + r
        seed_everything(seed)
        t_run = time.perf_counter()
        dataset = EpisodeDataset(source, classes, ways=config.ways, shots=config.shots, queries=config.queries,
                                 n_episodes=config.episodes, seed=seed, image_size=config.image_size,
                                 train=False, annotation=config.annotation,
                                 scribble_antialias=config.scribble_antialias,
                                 scribble_dilation=config.scribble_dilation)
        meter = FewShotMeter(n_classes(config.dataset), per_episode=True)
        writer = None
        if config.visualize and r == 0:  # run 0: the same episodes for every model
            from .visualize import EpisodeWriter

            note = f"no training ({weights['weights_info'].split(' (')[0]})" if not weights["trained"] else \
                f"trained {weights['training_steps']} steps, " + \
                ("PAR lambda n/a" if weights["par_weight"] is None else f"PAR lambda={weights['par_weight']:g}")
            writer = EpisodeWriter(config.visualize, config.visualize_count, names, n_classes(config.dataset),
                                   note=textwrap.shorten(note, 90))
        distances = [] if config.prototype_distance else None
        counted = _run_episodes(model, dataset, config.batch_size, device, precision, meter, config.workers,
                                desc=f"run {r + 1}/{config.runs}", on_episode=writer, distances=distances)
        if writer is not None:
            print(f"--visualize: {len(writer.written)} episodes drawn into {config.visualize}", flush=True)
        if not meter.seen(classes):
            raise ValueError(f"run {r}: no test class appeared in any query ({config.episodes} episodes)")
        class_iou, mean_iou = meter.mean_iou(classes)  # the mean over the classes seen (FewShotMeter)
        binary, binary_mean = meter.binary_iou()
        run = {"seed": seed, "mean_iou": mean_iou, "binary_iou": binary_mean,
               "class_iou": {str(c): (None if math.isnan(v) else v) for c, v in zip(classes, class_iou)},
               "binary_class_iou": binary, "unseen_classes": [c for c, v in zip(classes, class_iou)
                                                               if math.isnan(v)],
               "n_queries": meter.n_records, "redrawn_episodes": counted["redrawn"],
               "empty_supports": counted["empty_supports"], "wall_time_s": time.perf_counter() - t_run}
        ids, counts = meter.episode_counts()
        arrays["class_ids"].append(ids)
        arrays["counts"].append(counts)
        arrays["empty_supports"].append(counted["empty_supports"])
        if distances is not None:
            d = np.stack(distances)  # [E, 3, N]
            arrays["distances"].append(d)
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a way no query showed: NaN, left out
                run["prototype_distance"] = {"euclidean": float(np.nanmean(d[:, 0])),
                                             "cosine": float(np.nanmean(d[:, 1])),
                                             "cosine_fg_bg": float(np.nanmean(d[:, 2]))}
        runs.append(run)
        save_partial(out, {"config": recorded_config, "parameter_digest": weights["parameter_digest"], "runs": runs},
                     _stacked(arrays))
        print(f"run {r + 1}/{config.runs} (seed {seed}): mean-IoU {run['mean_iou']:.4f}  "
              f"binary IoU {binary_mean:.4f}", flush=True)

    results = summary(config, recorded_config, runs, classes, names, weights)
    results["data"] = {"dataset": data_name, "description": portable_text(description),
                       "identity": data_identity(data_name, source.root if hasattr(source, "root") else "."),
                       "split": split, "fold": config.fold,
                       "test_classes": classes, "class_names": [names[c - 1] for c in classes],
                       "annotation": config.annotation, "weak_supports": weak_description(config, source)}
    results.update({"wall_time_s": time.perf_counter() - t_start,
                    "device": (torch.cuda.get_device_name(device) if device.type == "cuda"
                               else f"cpu ({machine(device)['cpu']})"),
                    "machine": machine(device), "precision": precision, "amp": precision == "bf16"})
    validate_results(results)
    check_results_path(out, force)  # a file another evaluation wrote meanwhile is kept too
    save_counts(out, _stacked(arrays))
    atomic_write_json(results, out)
    remove_partial(out)
    print(f"mean-IoU {results['mean_iou']['mean']:.4f} +- {results['mean_iou']['std']:.4f}  binary IoU "
          f"{results['binary_iou']['mean']:.4f} +- {results['binary_iou']['std']:.4f}  -> {out}", flush=True)
    return results


def _stacked(arrays: dict) -> dict:
    return {k: np.stack(v) if k != "empty_supports" else np.asarray(v, dtype=np.int64)
            for k, v in arrays.items() if len(v)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m panet_min.evaluate", description=__doc__.split("\n\n")[0])
    add_config_arguments(parser, EvalConfig)
    parser.add_argument("--force", action="store_true", help="overwrite an existing results file")
    args = vars(parser.parse_args(argv))
    force = args.pop("force", False)
    return run_command(parser.prog, lambda: evaluate(EvalConfig(**args), force=force))


if __name__ == "__main__":
    sys.exit(main())
