"""Training: ``python -m panet_min.train`` or ``train(TrainConfig(...))``.

The original protocol by default (PANet's ``train.py``): VGG-16 from ImageNet weights, 1-way
1-shot with 1 query, one episode per step from the fold's *training* classes, 30 000 steps of SGD
(lr 1e-3, momentum 0.9, weight decay 5e-4 on all parameters), lr x0.1 after 10 000 and 20 000
steps, loss = cross-entropy on the query (ignore 255) + ``par_weight`` x PAR loss.

What it writes to ``RUN_DIR`` (rank 0 only):

- ``config.json``: the effective :class:`~panet_min.config.TrainConfig`;
- ``checkpoint.pt`` every ``checkpoint_every`` steps and at the end, written atomically:
  ``model``, ``optimizer``, ``scheduler`` state dicts, ``step`` (steps done), ``rng`` (torch,
  numpy, python states), ``config``, ``weights_info``, ``format``; ``torch.load(weights_only=True)``;
- ``step-NNNNN.pt`` every ``keep_every`` steps (0: never): the model's weights at that step, with
  ``step``, ``config`` and ``weights_info``, for a training curve;
- ``log.jsonl``, one JSON object a line: ``{"event": "start", ..., "precision", "machine"}``; every
  ``log_every`` steps ``{"event": "step", "step", "loss", "query_loss", "par_loss", "lr",
  "steps_per_s"}`` (losses averaged over the steps since the last line) with the collapse
  diagnostics of :mod:`panet_min.diagnostics` (``grad_norm``, ``grad_norm_blockB``,
  ``grad_norm_max``, ``loss_max``, ``proto_norm_fg``, ``proto_norm_bg``, ``proto_cos_fg_bg``), plus
  every ``proto_dist_every`` steps
  ``"proto_dist"`` (in the next line): the mean Euclidean distance between the support foreground prototype and the
  query foreground prototype pooled with the query's *true* mask (what the paper plots to show
  that PAR pulls the two together); ``{"event": "end", "param_digests": [one per rank], ...}``.

Resuming (``--resume``): episode e of step s is episode ``(s * W + rank) * E + e`` of a dataset
whose episodes depend on (seed, index) only, so the data stream needs no state besides the step;
with the optimizer, scheduler and RNG states restored, N straight steps and N/2 + resume to N give
bit-identical weights on CPU. A killed run loses at most the steps since its last checkpoint.

Precision: ``--precision auto`` (the default) trains in bf16 autocast with channels-last tensors on
CUDA and on a CPU with native bf16 (AMX, AVX512-BF16), in fp32 elsewhere; the run's config records
the precision it resolved to. Fast path (CUDA): bf16, ``--channels-last``, ``--episodes-per-step E``,
``--workers`` with pinned memory and non-blocking copies, ``--compile`` (the encoder), no host
sync between log lines (the model's input checks are off on CUDA: the episodes are valid by
construction). E > 1 averages the loss over E episodes, i.e. a batch of E at the same lr: not the
original protocol. Multi-GPU: ``torchrun --nproc_per_node P -m panet_min.train ...``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from . import distributed
from .checkpoint import (CHECKPOINT_FORMAT, atomic_save, atomic_write_json, load_checkpoint, load_scheduler_state,
                         portable_text, read_json, rng_state, scheduler_state, seed_everything, set_rng_state,
                         write_error)
from .config import TrainConfig, add_config_arguments
from .data.episodes import TENSOR_KEYS
from .diagnostics import StepSignals, prototype_distance
from .loading import build_model
from .model import query_loss
from .runsetup import (machine, precision_context, progress_bar, resolve_device, resolve_precision, run_command,
                       training_source)

# Settings a resumed run may change; every other one must match the checkpoint's.
RESUMABLE = ("iters", "checkpoint_every", "keep_every", "log_every", "proto_dist_every", "workers", "device",
             "out", "data_root", "compile")


def default_run_dir(config: TrainConfig) -> Path:
    return Path("runs") / f"{config.dataset}_fold{config.fold}_{config.ways}way_{config.shots}shot"


def lr_schedule(optimizer, config: TrainConfig):
    """The original's step schedule (lr x ``gamma`` after each milestone), with ``warmup`` > 0 preceded
    by a linear ramp: at step s < warmup the rate is lr x (s + 1) / warmup (not in the original)."""
    if not config.warmup:
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=config.milestones, gamma=config.gamma)
    import bisect

    milestones, gamma, warmup = sorted(config.milestones), config.gamma, config.warmup
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: gamma ** bisect.bisect_right(milestones, s) * min(1.0, (s + 1) / warmup))


def _check_resume(config: TrainConfig, saved: dict, path: Path) -> None:
    for key, value in saved.items():
        if key not in RESUMABLE and getattr(config, key, value) != value:
            raise ValueError(f"cannot resume {path}: {key}={getattr(config, key)!r} but the run was "
                             f"started with {key}={value!r} (a resumed run keeps its settings; only "
                             f"{', '.join(RESUMABLE)} may change)")


def _step_loader(dataset, start: int, config: TrainConfig, world, pin: bool) -> DataLoader:
    from .data import collate_episodes

    E = config.episodes_per_step
    order = [distributed.episode_index(s, world.rank, world.world_size, E, e)
             for s in range(start, config.iters) for e in range(E)]
    extra = {"persistent_workers": True, "prefetch_factor": 4} if config.workers > 0 else {}
    return DataLoader(dataset, batch_size=E, sampler=order, num_workers=config.workers,
                      collate_fn=collate_episodes, pin_memory=pin, drop_last=False, **extra)


def _log_ended(path: Path) -> bool:
    """Whether a training log holds its "end" line (lines cut short by a kill are skipped)."""
    if not path.is_file():
        return False
    for line in path.read_text().splitlines():
        try:
            if json.loads(line).get("event") == "end":
                return True
        except json.JSONDecodeError:
            continue
    return False


class _Log:
    """Appends JSON lines (rank 0 only). On resume, keeps the lines up to the checkpoint's step
    (what comes after is trained again) and drops a line cut short by a kill."""

    def __init__(self, path: Path, enabled: bool, keep_step: int | None):
        self.path, self.enabled = path, enabled
        if enabled and keep_step is not None and path.is_file():
            kept = []
            for line in path.read_text().splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if record.get("event") != "end" and record.get("step", 0) <= keep_step:
                    kept.append(line)
            path.write_text("".join(line + "\n" for line in kept))
        elif enabled:
            path.write_text("")

    def write(self, **record) -> None:
        if self.enabled:
            with open(self.path, "a") as f:
                f.write(json.dumps(record) + "\n")


def train(config: TrainConfig, resume: bool = False, progress: bool | None = None) -> Path:
    """Train PANet as ``config`` says; returns the run folder (see the module docstring).

    ``resume``: continue from ``RUN_DIR/checkpoint.pt`` to ``config.iters`` steps. ``progress``: a
    tqdm bar (True: always, e.g. in a notebook; None: on an interactive terminal outside CI).
    """
    config = TrainConfig.from_dict(config.to_dict())  # a private, validated copy
    device = resolve_device(config.device)
    world = distributed.init(device.type)
    try:
        if world.distributed and device.type == "cuda":
            device = torch.device("cuda", world.local_rank)
        return _train(config, resume, device, world, progress)
    finally:
        distributed.close(world)


def _train(config: TrainConfig, resume: bool, device: torch.device, world, progress: bool | None = None) -> Path:
    run_dir = Path(config.out) if config.out else default_run_dir(config)
    config.out = str(run_dir)
    config.device = device.type
    config.precision = resolve_precision(config.precision, device, config.amp)  # recorded as resolved
    config.amp = config.precision == "bf16"
    ckpt_path = run_dir / "checkpoint.pt"
    checkpoint = None
    if resume:
        checkpoint = load_checkpoint(ckpt_path)
        missing = [k for k in ("config", "model", "optimizer", "scheduler", "step", "rng") if k not in checkpoint]
        if missing:
            raise ValueError(f"cannot resume from {ckpt_path}: it lacks {', '.join(missing)} (a weights-only "
                             "file such as step-NNNNN.pt, or not written by panet_min.train); resume from the "
                             "run's own checkpoint.pt or start a new run with another --out")
        _check_resume(config, checkpoint["config"], ckpt_path)
        step = int(checkpoint["step"])
        # a kill between the last save and the log's "end" line leaves a finished run to close: resume
        # then only writes that line
        if step > config.iters or step == config.iters and _log_ended(run_dir / "log.jsonl"):
            raise ValueError(f"{ckpt_path} is already at step {checkpoint['step']} >= --iters {config.iters}: "
                             "pass a larger --iters to train further")
    elif ckpt_path.exists():
        raise ValueError(f"{run_dir} already holds a checkpoint: pass --resume to continue that run, "
                         "or choose another --out")

    seed_everything(config.seed)
    # the fold's training classes (+ MSRC's stuff with stuff_as_training); strict drops test images
    source, classes, description = training_source(config)
    from .data import EpisodeDataset

    E, W = config.episodes_per_step, world.world_size
    dataset = EpisodeDataset(source, classes, ways=config.ways,
                             shots=config.shots, queries=config.queries, n_episodes=config.iters * E * W,
                             seed=config.seed, image_size=config.image_size, train=True)
    model = build_model(config, device)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay)
    scheduler = lr_schedule(optimizer, config)
    start = 0
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        load_scheduler_state(scheduler, checkpoint["scheduler"])
        set_rng_state(checkpoint["rng"])
        start = int(checkpoint["step"])
        model.encoder.weights_info = checkpoint.get("weights_info", model.weights_info)
    if config.compile:
        model.encoder.compile()
    net = model
    if world.distributed:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)

    if world.is_main:
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:  # a file in the way, no permission, ...
            raise write_error(run_dir, e) from e
        atomic_write_json(config.to_dict(), run_dir / "config.json")
    log = _Log(run_dir / "log.jsonl", world.is_main, start if resume else None)
    log.write(event="resume" if resume else "start", step=start, data=portable_text(description), split=source.split,
              weights_info=model.weights_info, world_size=W, device=str(device), torch=torch.__version__,
              precision=config.precision, machine=machine(device))

    def save(step: int) -> None:
        if world.is_main:
            atomic_save({"format": CHECKPOINT_FORMAT, "model": model.state_dict(),
                         "optimizer": optimizer.state_dict(), "scheduler": scheduler_state(scheduler),
                         "step": step, "rng": rng_state(), "config": config.to_dict(),
                         "weights_info": model.weights_info}, ckpt_path)
        distributed.barrier(world)

    model.train()
    amp = precision_context(device, config.precision)
    pin = device.type == "cuda"
    signals = StepSignals(model.encoder, device)  # losses, gradient and prototype norms since the last log line
    n_summed, proto_dist, t_last, step = 0, None, time.perf_counter(), start
    bar = progress_bar(total=config.iters, initial=start, desc="train", unit="step", enabled=world.is_main,
                       force=bool(progress))
    for step, batch in enumerate(_step_loader(dataset, start, config, world, pin), start=start):
        x = {k: batch[k].to(device, non_blocking=pin) for k in TENSOR_KEYS}
        with amp:
            out = net(x["support_images"], x["support_fg"], x["support_bg"], x["query_images"])
        q_loss = query_loss(out.logits.float(), x["query_labels"])
        loss = q_loss + config.par_weight * out.par_loss.float()  # the total loss L = L_seg + lambda L_PAR
        done = step + 1
        if done % config.proto_dist_every == 0 or done == config.iters:
            with amp:
                proto_dist = prototype_distance(model, x["query_images"], x["query_labels"], out.prototypes[1])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        signals.add(torch.stack([loss, q_loss, out.par_loss.float()]), out.prototypes)  # before the step
        if config.clip_grad:  # logged above unclipped: the log shows the spikes the clipping cut
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad)
        optimizer.step()
        scheduler.step()
        n_summed += 1
        bar.update(1)
        if done % config.log_every == 0 or done == config.iters:
            now = time.perf_counter()
            record = {"step": done, **signals.flush(),  # the one host sync per log line
                      "lr": optimizer.param_groups[0]["lr"], "steps_per_s": n_summed / (now - t_last)}
            loss_v, q_v, par_v = record["loss"], record["query_loss"], record["par_loss"]
            if proto_dist is not None:
                value = float(proto_dist)
                record["proto_dist"] = value if value == value else None  # NaN -> null
                proto_dist = None
            log.write(event="step", **record)
            bar.set_postfix(loss=f"{loss_v:.4f}", steps_s=f"{record['steps_per_s']:.2f}")
            if bar.disable and world.is_main:
                print(f"step {done}/{config.iters}  loss {loss_v:.4f}  (query {q_v:.4f}, PAR {par_v:.4f})  "
                      f"lr {record['lr']:.2e}  {record['steps_per_s']:.2f} steps/s", flush=True)
            n_summed, t_last = 0, now
        # the kept weights first: a kill between the two writes then trains this step again, and the
        # resumed run still writes its step file
        if config.keep_every and done % config.keep_every == 0 and done < config.iters and world.is_main:
            # the weights alone, for a training curve (``evaluate --checkpoint RUN/step-NNNNN.pt``)
            atomic_save({"format": CHECKPOINT_FORMAT, "model": model.state_dict(), "step": done,
                         "config": config.to_dict(), "weights_info": model.weights_info},
                        run_dir / f"step-{done:05d}.pt")
        if done % config.checkpoint_every == 0 or done == config.iters:
            save(done)
    bar.close()
    digests = distributed.gather_digests(world, model)
    log.write(event="end", step=config.iters, param_digests=digests)
    if world.is_main:
        print(f"panet_min.train: {config.iters} steps done; run folder {run_dir}", flush=True)
    return run_dir



def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m panet_min.train", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, TrainConfig)
    parser.add_argument("--resume", action="store_true", help="continue RUN_DIR/checkpoint.pt (--out)")
    args = vars(parser.parse_args(argv))
    resume = args.pop("resume", False)

    def body():
        if resume:
            out = Path(args.get("out") or default_run_dir(TrainConfig(**{k: v for k, v in args.items()
                                                                         if k != "out"})))
            saved = out / "config.json"
            if not saved.is_file():
                raise ValueError(f"--resume: no run to resume in {out} ({saved} is missing)")
            stored = read_json(saved, "the run's config")
            stored.setdefault("precision", "bf16" if stored.get("amp") else "fp32")  # runs older than --precision
            config = TrainConfig.from_dict({**stored, **args, "out": str(out)})
        else:
            config = TrainConfig(**args)
        train(config, resume=resume)

    return run_command(parser.prog, body)


if __name__ == "__main__":
    sys.exit(main())
