"""bf16 against fp32 training: the same MSRC runs (fold, lambda, training seed) trained both ways,
evaluated the same way, compared with the spread over training seeds.

The fp32 trainings are the book's earlier CPU runs (``src/panet_min/results/msrc-f*-1shot-*.json``,
241 px, 1,000 steps, evaluated in fp32 on 3 x 300 episodes); the bf16 ones are the grid's
(``grids/msrc-241.toml``, checkpoints in ``runs/msrc-241``). Each bf16 checkpoint is evaluated here
with the fp32 results' own evaluation settings (fp32, 3 x 300, the same episodes), into
``src/panet_min/results/parity/``; then the table prints each bf16 - fp32 difference beside the
sample std over the grid's training seeds of the same setting.

    python tools/precision_parity.py            # evaluate what is missing, then print the table
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    from panet_min import report
    from panet_min.checkpoint import read_json
    from panet_min.config import EvalConfig
    from panet_min.evaluate import evaluate
    from panet_min.evidence import grid_results, seed_scores
    from panet_min.schema import validate_results

    results, _ = report.load_results()
    old = [(name, r) for name, r in report.find(results, dataset="msrc", shots=1, trained=True, precision="fp32")
           if report.experiment(r) in ("trained", "no PAR")]
    grid = grid_results()
    out_dir = report.book_results_dir() / "parity"
    grid_dir = report.book_results_dir() / "msrc-241"  # a cell's log is copied there when its training ends
    rows = []
    for name, r in sorted(old, key=lambda x: x[0]):
        d = report.describe(r)
        cell = f"f{d['fold']}-1shot-{'par' if d['par'] > 0 else 'nopar'}-s{d['train_seed']}"
        ckpt = ROOT / "runs" / "msrc-241" / cell / "checkpoint.pt"
        out = out_dir / f"{cell}-fp32eval.json"
        if not out.is_file():
            if not ckpt.is_file() or not (grid_dir / cell / "log.jsonl").is_file():
                print(f"{cell}: no finished bf16 training yet (run the grid first)")
                continue
            cfg = {k: v for k, v in r["config"].items() if k in EvalConfig.__dataclass_fields__}
            cfg.update(checkpoint=str(ckpt), out=str(out), precision="fp32", amp=False, data_root="data",
                       visualize=None)
            out_dir.mkdir(parents=True, exist_ok=True)
            evaluate(EvalConfig(**cfg))
        new = validate_results(read_json(out, "results file"))
        spread = seed_scores(grid.get("mask-1shot", {}).get(d["fold"], {}).get(d["experiment"], []))
        rows.append((cell, r["mean_iou"]["mean"], new["mean_iou"]["mean"], spread))
    print(f"{'run':24s} {'fp32':>6s} {'bf16':>6s} {'bf16-fp32':>9s}   sample std over the grid's training seeds")
    for cell, a, b, s in rows:
        std = f"{100 * s['std']:.1f} (n={s['n']})" if s["std"] is not None else "n/a"
        within = "" if s["std"] is None else ("within 1 std" if abs(b - a) <= s["std"] else
                                              "within 2 std" if abs(b - a) <= 2 * s["std"] else "BEYOND 2 std")
        print(f"{cell:24s} {100 * a:6.1f} {100 * b:6.1f} {100 * (b - a):+9.1f}   {std}  {within}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
