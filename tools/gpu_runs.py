"""The GPU runs of issue 7: train and evaluate PANet on the CamVid few-shot benchmark.

    python tools/gpu_runs.py --data-root DIR --train-budget-s 240 --results results

Four trainings, CamVid fold 0, VGG-16 with ImageNet weights, the original optimiser
(SGD 1e-3, momentum 0.9, weight decay 5e-4, x0.1 at 1/3 and 2/3 of the steps, one episode
per step, 417 x 417): 1-shot and 5-shot, with PAR (weight 1) and without. The number of
steps is what fits the time budget (probed first, the same for PAR and no PAR); the paper's
30 000 steps are said where they were not reached. Each is evaluated with the protocol
(5 runs x 1000 test episodes) and an ImageNet-only baseline ("no training") is evaluated too.
Writes results/camvid-f0-*.json and results/runs/<name>/{log.jsonl,config.json}.
"""
from __future__ import annotations

import argparse
import json
import shutil
import tarfile
import time
from pathlib import Path

from panet_min.config import EvalConfig, TrainConfig
from panet_min.evaluate import evaluate
from panet_min.train import train


def train_config(name, shots, par, iters, args) -> TrainConfig:
    return TrainConfig(dataset="camvid", data_root=args.data_root, fold=0, shots=shots, iters=iters,
                       par_weight=1.0 if par else 0.0, device=args.device, amp=args.device == "cuda",
                       channels_last=args.device == "cuda", image_size=args.image_size,
                       workers=args.workers, milestones=[iters // 3, 2 * iters // 3],
                       checkpoint_every=max(iters // 2, 1), log_every=max(iters // 100, 1),
                       proto_dist_every=max(iters // 30, 1), out=str(Path(args.runs) / name))


def rate(shots: int, args) -> float:
    """Steps/s of a short probe run (start-up excluded: two lengths, the difference)."""
    times = {}
    for n in (20, 80):
        t = time.perf_counter()
        train(train_config(f"probe{shots}-{n}", shots, True, n, args))
        times[n] = time.perf_counter() - t
    return 60 / max(times[80] - times[20], 1e-3)


def bundle(results: Path, path: str | None) -> None:
    """Pack the results folder into one tar (a device call brings back only a few files)."""
    if path:
        with tarfile.open(path + ".tmp", "w") as tar:
            tar.add(results, arcname=results.name)
        Path(path + ".tmp").replace(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", required=True)
    ap.add_argument("--train-budget-s", type=float, default=240)
    ap.add_argument("--iters", type=int, nargs=2, metavar=("ONE_SHOT", "FIVE_SHOT"),
                    help="steps of the 1-shot and 5-shot trainings (skips the probe and the budget)")
    ap.add_argument("--results", default="results")
    ap.add_argument("--runs", default="runs")
    ap.add_argument("--workers", type=int, default=12)
    ap.add_argument("--episodes", type=int, default=1000)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--image-size", type=int, default=417, help="417 (the protocol); smaller only to smoke-test")
    ap.add_argument("--bundle", help="after each stage, tar the results folder to this path")
    ap.add_argument("--shots", type=int, nargs="+", default=[1, 5], choices=[1, 5],
                    help="which shot settings to train and evaluate (default both)")
    args = ap.parse_args()
    results = Path(args.results)
    (results / "runs").mkdir(parents=True, exist_ok=True)
    summary = {"probe_steps_per_s": {}, "iters": {}, "wall_s": {}}
    if args.iters:
        summary["iters"] = {1: args.iters[0], 5: args.iters[1]}
    else:
        for shots in args.shots:
            summary["probe_steps_per_s"][shots] = rate(shots, args)
            # each of the 4 trainings gets a quarter of the budget
            iters = int(summary["probe_steps_per_s"][shots] * args.train_budget_s / 4) // 100 * 100
            summary["iters"][shots] = min(max(iters, 100), 30000)
    print(json.dumps(summary), flush=True)

    def save_summary():
        (results / "gpu_summary.json").write_text(json.dumps(summary, indent=1))
        bundle(results, args.bundle)

    def run_eval(name, shots, **kw):
        t = time.perf_counter()
        evaluate(EvalConfig(dataset="camvid", data_root=args.data_root, fold=0, shots=shots, runs=5,
                            episodes=args.episodes, batch_size=16, amp=args.device == "cuda",
                            channels_last=args.device == "cuda", device=args.device, image_size=args.image_size,
                            workers=args.workers, out=str(results / f"{name}.json"), **kw))
        summary["wall_s"][f"eval {name}"] = time.perf_counter() - t
        save_summary()

    # Most valuable first: a call cut short keeps what finished.
    for shots in args.shots:
        for par in (True, False):
            name = f"camvid-f0-{shots}shot-{'par' if par else 'nopar'}"
            t = time.perf_counter()
            run_dir = train(train_config(name, shots, par, summary["iters"][shots], args))
            summary["wall_s"][f"train {name}"] = time.perf_counter() - t
            keep = results / "runs" / name
            keep.mkdir(parents=True, exist_ok=True)
            for f in ("log.jsonl", "config.json"):
                shutil.copy(run_dir / f, keep / f)
            run_eval(name, shots, checkpoint=str(run_dir / "checkpoint.pt"))
            print(json.dumps(summary), flush=True)
        run_eval(f"camvid-f0-{shots}shot-notrain", shots, no_train=True)


if __name__ == "__main__":
    main()
