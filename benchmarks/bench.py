"""Speed of panet_min: training steps/s, evaluation episodes/s, and the metric.

    python benchmarks/bench.py                               # VGG-16, 417x417, 1- and 5-shot, this device
    python benchmarks/bench.py --device cuda --precision fp32,bf16 --episodes-per-step 1,8
    python benchmarks/bench.py --backbone small --size 128   # quick look on a laptop

Model timings use random tensors of the protocol's shapes (1-way, K-shot, 1 query; masks are
random boxes), so they measure the network, not the disk; ``--data-root`` adds the episode
loader's speed on a real folder. Timers are wrapped in ``torch.cuda.synchronize()`` on CUDA,
after warm-up steps; the peak GPU memory of each setting is reported. Also times
:class:`panet_min.metrics.FewShotMeter` on 1000 random 417x417 episodes against the official
set-based metric (``panet_min.reference``) on a few, checks that they agree, and prints the ratio
``record`` / one ``numpy.bincount`` of the confusion index of the same query (the floor of any
counting metric; the project's rule: at most about 2x), as the median and range over alternating
pairs of blocks. Prints figures only; nothing here is asserted against a clock.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from panet_min.backbone import build_encoder
from panet_min.metrics import FewShotMeter
from panet_min.model import PANet, predict, query_loss
from panet_min.runsetup import cpu_model, native_bf16_cpu

REPO = Path(__file__).resolve().parents[1]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def random_episodes(B: int, K: int, S: int, device: torch.device, seed: int = 0) -> dict:
    """B 1-way K-shot episodes with 1 query: images N(0,1), a random box as support foreground."""
    g = torch.Generator().manual_seed(seed)
    fg = torch.zeros(B, 1, K, S, S)
    labels = torch.zeros(B, 1, S, S, dtype=torch.long)
    for b in range(B):
        for k in range(K + 1):
            y0, x0 = torch.randint(0, S // 2, (2,), generator=g).tolist()
            h, w = torch.randint(S // 8, S // 2, (2,), generator=g).tolist()
            if k < K:
                fg[b, 0, k, y0:y0 + h, x0:x0 + w] = 1
            else:
                labels[b, 0, y0:y0 + h, x0:x0 + w] = 1
    return {"support_images": torch.randn(B, 1, K, 3, S, S, generator=g).to(device),
            "support_fg": fg.to(device), "support_bg": (1 - fg).to(device),
            "query_images": torch.randn(B, 1, 3, S, S, generator=g).to(device), "query_labels": labels.to(device)}


def make_model(args, device: torch.device, train: bool, bf16: bool = False) -> PANet:
    """PANet as training and evaluation build it: channels-last with bf16 (as ``--precision auto``)."""
    model = PANet(build_encoder(args.backbone, None), check_inputs=device.type == "cpu").to(device)
    if args.channels_last or bf16:
        model.to(memory_format=torch.channels_last)
    if args.compile:
        model.encoder.compile()
    return model.train(train)


def time_train(args, device, K: int, E: int, amp: bool) -> dict:
    model = make_model(args, device, train=True, bf16=amp)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)
    x = random_episodes(E, K, args.size, device)
    ctx = torch.autocast(device.type, dtype=torch.bfloat16) if amp else contextlib.nullcontext()

    def step():
        with ctx:
            out = model(x["support_images"], x["support_fg"], x["support_bg"], x["query_images"])
        loss = query_loss(out.logits.float(), x["query_labels"]) + out.par_loss.float()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return _timed(step, args.warmup, args.steps, device, E)


def time_eval(args, device, K: int, E: int, amp: bool) -> dict:
    model = make_model(args, device, train=False, bf16=amp)
    x = random_episodes(E, K, args.size, device)
    meter = FewShotMeter(20)
    ctx = torch.autocast(device.type, dtype=torch.bfloat16) if amp else contextlib.nullcontext()

    def step():
        with torch.inference_mode(), ctx:
            out = model(x["support_images"], x["support_fg"], x["support_bg"], x["query_images"])
            pred = predict(out.logits)
            for b in range(E):
                meter.record(pred[b], x["query_labels"][b], [1])

    return _timed(step, args.warmup, args.eval_steps, device, E)


def _timed(step, warmup: int, n: int, device, E: int) -> dict:
    for _ in range(warmup):
        step()
    sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t = time.perf_counter()
    for _ in range(n):
        step()
    sync(device)
    dt = time.perf_counter() - t
    mem = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    return {"steps_per_s": n / dt, "episodes_per_s": n * E / dt, "s_per_step": dt / n, "max_mem_gib": mem}


def time_metric(n_fast: int, n_literal: int, size: int = 417, repeats: int = 10) -> dict:
    """FewShotMeter on ``n_fast`` random 1-way episodes vs the official set metric on ``n_literal``,
    and ``record`` against its floor, one ``numpy.bincount`` of the confusion index.

    The record/bincount ratio is timed in ``repeats`` pairs of blocks of ``n_fast // repeats``
    episodes each (record, then bincount, the order swapped every other pair, so that a change
    of the machine's load hits both): the ratio of each pair, its median and its spread."""
    from panet_min import reference as ref
    rng = np.random.default_rng(0)

    def episode():
        target = (rng.random((size, size)) < 0.3).astype(np.int64)
        target[:8] = 255  # a border of ignored pixels, as VOC's
        pred = (rng.random((size, size)) < 0.4).astype(np.int64)
        return pred, target

    eps = [episode() for _ in range(n_literal)]
    t = time.perf_counter()
    literal = ref.SetMetric(20)
    for pred, target in eps:
        literal.record(pred, target, [3])
    t_literal = (time.perf_counter() - t) / n_literal
    fast = FewShotMeter(20)
    for pred, target in eps:
        fast.record(pred, target, [3])
    agree = np.allclose(literal.miou([3])[0], fast.mean_iou([3])[0], rtol=0, atol=1e-12) and \
        np.allclose(literal.binary()[0], fast.binary_iou()[0], rtol=0, atol=1e-12)
    # as evaluate passes them: CPU tensors [H, W], int64 (pred from argmax, target from the loader)
    preds = torch.from_numpy(np.stack([p for p, _ in eps]))
    targets = torch.from_numpy(np.stack([t for _, t in eps]))
    # the floor: one numpy.bincount over the same pixels, its index computed beforehand
    # (target * (1 + N) + pred, N = 1 way; minlength = 256 target values x 2 labels)
    index = [(tg.numpy() * 2 + pr.numpy()).ravel() for pr, tg in zip(preds, targets)]
    block = max(1, n_fast // repeats)

    def run_record():
        for i in range(block):
            fast.record(preds[i % n_literal], targets[i % n_literal], [3])
        fast.mean_iou([3])

    def run_bincount():
        for i in range(block):
            np.bincount(index[i % n_literal], minlength=512)

    fast.reset()
    run_record(), run_bincount()  # warm-up: buffers, caches
    t_rec, t_bin = [], []
    for r in range(repeats):
        for fn, out in ((run_record, t_rec), (run_bincount, t_bin))[::1 if r % 2 == 0 else -1]:
            t = time.perf_counter()
            fn()
            out.append((time.perf_counter() - t) / block)
    t_rec, t_bin = np.array(t_rec), np.array(t_bin)
    ratio = t_rec / t_bin
    t_fast = float(np.median(t_rec))
    return {"size": [size, size], "ways": 1, "pixels_per_episode": size * size,
            "bincount_minlength": 512, "repeats": repeats, "episodes_per_repeat": block,
            "fast_s_per_episode": t_fast, "fast_s_range": [float(t_rec.min()), float(t_rec.max())],
            "bincount_s_per_episode": float(np.median(t_bin)),
            "bincount_s_range": [float(t_bin.min()), float(t_bin.max())],
            "vs_bincount": float(np.median(ratio)), "vs_bincount_range": [float(ratio.min()), float(ratio.max())],
            "literal_s_per_episode": t_literal, "speed_up": t_literal / t_fast,
            "fast_s_for_1000": 1000 * t_fast, "literal_s_for_1000": 1000 * t_literal, "agree": bool(agree),
            "n_fast": block * repeats, "n_literal": n_literal}


def time_loader(data_root: str, K: int, size: int, workers: int, n: int) -> float:
    from panet_min.runsetup import open_split
    from panet_min.data import EpisodeDataset, episode_loader, fold_classes

    source, _, name = open_split("pascal", data_root, "trainaug")
    ds = EpisodeDataset(source, fold_classes(name, 0, train=True), shots=K, n_episodes=n, image_size=size,
                        train=True)
    t = time.perf_counter()
    for _ in episode_loader(ds, batch_size=1, num_workers=workers):
        pass
    return n / (time.perf_counter() - t)


def _ints(s: str) -> list[int]:
    return [int(v) for v in s.split(",")]


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--backbone", default="vgg16", choices=("vgg16", "small"))
    p.add_argument("--size", type=int, default=417)
    p.add_argument("--shots", type=_ints, default=[1, 5], help="comma list, e.g. 1,5")
    p.add_argument("--episodes-per-step", type=_ints, default=[1], help="comma list, e.g. 1,8")
    p.add_argument("--precision", default="fp32,bf16",
                   help="comma list of fp32 | bf16 (bf16 autocast + channels-last, as --precision bf16 trains)")
    p.add_argument("--channels-last", action="store_true", help="channels-last in fp32 too")
    p.add_argument("--compile", action="store_true", help="torch.compile the encoder")
    p.add_argument("--steps", type=int, default=None, help="timed train steps (CPU 3, CUDA 30)")
    p.add_argument("--eval-steps", type=int, default=None, help="timed eval batches (CPU 3, CUDA 50)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (CPU 1, CUDA 5)")
    p.add_argument("--metric-episodes", type=int, default=1000)
    p.add_argument("--literal-episodes", type=int, default=3)
    p.add_argument("--metric-repeats", type=int, default=10, help="pairs of record/bincount blocks")
    p.add_argument("--skip-model", action="store_true")
    p.add_argument("--data-root", default=None, help="also time the episode loader on this VOC-layout folder")
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--json", default=None, help="also write the figures to this file")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)
    cuda = device.type == "cuda"
    args.steps = args.steps or (30 if cuda else 3)
    args.eval_steps = args.eval_steps or (50 if cuda else 3)
    args.warmup = args.warmup if args.warmup is not None else (5 if cuda else 1)
    if cuda:
        torch.backends.cudnn.benchmark = True
    precisions = [x.strip() for x in args.precision.split(",")]
    if set(precisions) - {"fp32", "bf16"}:
        p.error(f"--precision takes fp32 and/or bf16, got {args.precision!r}")
    name = torch.cuda.get_device_name(device) if cuda else \
        f"CPU {cpu_model()} ({'native bf16' if native_bf16_cpu() else 'no native bf16'}), {torch.get_num_threads()} threads"
    print(f"device: {name}; torch {torch.__version__}; {args.backbone} at {args.size}x{args.size}, 1-way, 1 query")
    report = {"device": name, "torch": torch.__version__, "args": vars(args), "model": [], "metric": None}
    if not args.skip_model:
        print(f"{'shots':>5} {'E':>3} {'prec':>4} | {'train steps/s':>13} {'s/step':>7} {'train ep/s':>10} | "
              f"{'eval ep/s':>9} | {'train GiB':>9} {'eval GiB':>8} | x fp32 (train, eval)")
        for K in args.shots:
            for E in args.episodes_per_step:
                base = None
                for prec in precisions:
                    amp = prec == "bf16"
                    tr, ev = time_train(args, device, K, E, amp), time_eval(args, device, K, E, amp)
                    report["model"].append({"shots": K, "episodes_per_step": E, "precision": prec, "amp": amp,
                                            "train": tr, "eval": ev})
                    mem = (f"{tr['max_mem_gib']:9.2f} {ev['max_mem_gib']:8.2f}" if cuda else f"{'-':>9} {'-':>8}")
                    base = (tr, ev) if prec == "fp32" else base
                    ratio = (f"x{tr['steps_per_s'] / base[0]['steps_per_s']:.2f}, "
                             f"x{ev['episodes_per_s'] / base[1]['episodes_per_s']:.2f}") if base else "-"
                    print(f"{K:>5} {E:>3} {prec:>4} | {tr['steps_per_s']:13.3f} {1 / tr['steps_per_s']:7.2f} "
                          f"{tr['episodes_per_s']:10.3f} | {ev['episodes_per_s']:9.3f} | {mem} | {ratio}", flush=True)
    if args.metric_episodes:
        m = time_metric(args.metric_episodes, args.literal_episodes, repeats=args.metric_repeats)
        report["metric"] = m
        ms = lambda v: f"{1e3 * v:.2f}"  # noqa: E731
        print(f"metric, {m['size'][0]}x{m['size'][1]} ({m['pixels_per_episode']} pixels), 1-way, 1 query per record, "
              f"{m['repeats']} repeats of {m['episodes_per_repeat']} episodes (median, [min-max]):\n"
              f"  FewShotMeter.record          {ms(m['fast_s_per_episode'])} ms/episode "
              f"[{ms(m['fast_s_range'][0])}-{ms(m['fast_s_range'][1])}] ({m['fast_s_for_1000']:.2f} s for 1000)\n"
              f"  one numpy.bincount (floor)   {ms(m['bincount_s_per_episode'])} ms/episode "
              f"[{ms(m['bincount_s_range'][0])}-{ms(m['bincount_s_range'][1])}] "
              f"(precomputed int64 index, minlength {m['bincount_minlength']})\n"
              f"  record / bincount            x{m['vs_bincount']:.2f} "
              f"[{m['vs_bincount_range'][0]:.2f}-{m['vs_bincount_range'][1]:.2f}] (per pair of blocks)\n"
              f"  official set metric          {1e3 * m['literal_s_per_episode']:.0f} ms/episode "
              f"({m['literal_s_for_1000']:.0f} s for 1000, from {m['n_literal']}); x{m['speed_up']:.0f} slower; "
              f"same numbers: {m['agree']}")
    if args.data_root:
        for K in args.shots:
            rate = time_loader(args.data_root, K, args.size, args.workers, 20)
            report.setdefault("loader", []).append({"shots": K, "episodes_per_s": rate})
            print(f"episode loader, {K}-shot, {args.workers} workers: {rate:.1f} episodes/s")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    return report


if __name__ == "__main__":
    main()
    sys.exit(0)
