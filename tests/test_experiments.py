"""The grid command: a declared grid of cells trains, tests and skips what is done; shards split it;
a bad grid file is refused before any work."""
import json
from pathlib import Path

import pytest

from panet_min.experiments import load_grid, shard, status
from panet_min.experiments.__main__ import main
from panet_min.evidence import grid_results

REPO = Path(__file__).resolve().parents[1]


# one thread: fast and bit-reproducible on a shared 2-core machine (conftest.one_thread)
pytestmark = pytest.mark.usefixtures("one_thread")


def write_grid(path: Path, root: Path, extra: str = "") -> Path:
    path.write_text(f'''
name = "tiny"
runs_dir = "{path.parent / 'runs'}"
results_dir = "{path.parent / 'results'}"
[train]
dataset = "pascal"
data_root = "{root}"
backbone = "small"
image_size = 40
iters = 4
keep_every = 2
checkpoint_every = 2
log_every = 1
precision = "fp32"
[evaluate]
runs = 2
episodes = 4
cache_features = true
precision = "fp32"
[test_sets]
s = [{{annotation = "mask", shots = 1, prototype_distance = true}}, {{annotation = "bbox", shots = 2}}]
[[group]]
name = "untrained"
train = false
fold = [0]
tests = "s"
curve = {{runs = 1, episodes = 3}}
[[group]]
name = "trained"
seed = [1, 2]
fold = [0]
par_weight = [1.0, 0.0]
tests = "s"
curve = {{runs = 1, episodes = 3}}
{extra}''')
    return path


def test_a_grid_runs_once_and_reports_over_seeds(synthetic_voc_root, tmp_path, capsys):
    grid_file = write_grid(tmp_path / "g.toml", synthetic_voc_root)
    grid = load_grid(grid_file)
    assert [c.name for c in grid.cells] == ["f0-notrain", "f0-1shot-par-s1", "f0-1shot-nopar-s1",
                                             "f0-1shot-par-s2", "f0-1shot-nopar-s2"]
    assert main(["run", str(grid_file)]) == 0
    assert all(status(c, grid) == "done" for c in grid.cells)
    cell = tmp_path / "results" / "f0-1shot-par-s1"
    assert sorted(p.name for p in cell.iterdir()) == ["bbox-2shot.json", "bbox-2shot.npz", "config.json", "curve",
                                                      "log.jsonl", "mask-1shot.json", "mask-1shot.npz"]
    assert sorted(p.name for p in (cell / "curve").iterdir()) == ["step-00002.json", "step-00002.npz",
                                                                  "step-00004.json", "step-00004.npz"]
    assert json.loads((cell / "mask-1shot.json").read_text())["model"]["checkpoint_step"] == 4
    capsys.readouterr()
    assert main(["run", str(grid_file)]) == 0  # everything is done: nothing runs again
    assert "5 of 5 cells done; running 0" in capsys.readouterr().out
    table = grid_results(tmp_path / "results")
    assert sorted(table["mask-1shot"][0]) == ["no PAR", "no training", "trained"]
    assert [len(table["mask-1shot"][0][k]) for k in ("no training", "trained", "no PAR")] == [1, 2, 2]
    check_the_evidence(tmp_path / "results", table)


def check_the_evidence(results, table):
    """panet_min.evidence on the tiny grid: seeds summarised with ddof 1, paired CIs over seeds and
    episodes, the claims table, the logs and the held-out curves."""
    import numpy as np

    from panet_min import evidence

    trained = table["mask-1shot"][0]["trained"]
    scores = [e.score() for e in trained]
    s = evidence.seed_scores(trained)
    assert s["n"] == 2 and s["mean"] == pytest.approx(np.mean(scores)) and s["std"] == pytest.approx(np.std(scores, ddof=1))
    md = evidence.seed_table(table, "mask-1shot", ["no training", "trained", "no PAR"])
    assert f"{100 * s['mean']:.1f} ± {100 * s['std']:.1f} (n=2)" in md and "mean over folds" in md
    ci = evidence.effect(table, ("mask-1shot", "no training"), ("mask-1shot", "trained"), n_resamples=200)
    untrained = table["mask-1shot"][0]["no training"][0].score()
    assert ci["difference"] == pytest.approx(np.mean(scores) - untrained)
    assert ci["low"] <= ci["difference"] <= ci["high"] and ci["n_seeds"] == [2] and ci["n_episodes"] == [8]
    assert set(ci["per_fold"]) == {0}
    claims_md, tested = evidence.claims_table(table, n_resamples=100)
    by_name = {c.name: ci for c, ci in tested}
    assert by_name["PAR improves 1-shot"] is not None and by_name["PAR improves 5-shot"] is None  # not run
    assert "n/a" in claims_md and "paired" in claims_md
    par = by_name["PAR improves 1-shot"]  # "a → b" are the scores the effect used
    assert par["b"]["mean"] - par["a"]["mean"] == pytest.approx(par["difference"])
    # a trained setting with one seed stands for that seed only (an untrained model for every seed)
    f0 = table["mask-1shot"][0]
    one = {"mask-1shot": {0: {"no PAR": f0["no PAR"][1:], "trained": f0["trained"]}}}
    ci1 = evidence.effect(one, ("mask-1shot", "no PAR"), ("mask-1shot", "trained"), n_resamples=50)
    assert ci1["n_seeds"] == [1] and ci1["difference"] == pytest.approx(f0["trained"][1].score() - f0["no PAR"][1].score())
    boxes = next(c for c, _ in tested if c.name.startswith("boxes"))
    assert boxes.say("opposite") == "no cost: weak beats dense" and evidence.CLAIMS[1].say("opposite") == "opposite"
    runs = evidence.training_runs(results)
    assert sorted((r.setting, r.seed) for r in runs) == [("no PAR", 1), ("no PAR", 2), ("trained", 1), ("trained", 2)]
    curves = evidence.curves(results)
    assert [p["step"] for p in curves["f0-1shot-par-s1"]] == [0, 2, 4]  # step 0: the untrained cell's
    assert curves["f0-1shot-par-s1"][0]["mean_iou"] == curves["f0-notrain"][0]["mean_iou"]
    # the third claim: distances paired by seed and episode, the held-out score at a kept checkpoint
    from panet_min.counts import read_counts

    for name, which in evidence.DISTANCES.items():
        ci = evidence.distance_effect(table, which, n_resamples=100)
        per_seed = lambda s: np.mean([np.nanmean(x) for x in evidence.distance_values(table["mask-1shot"][0][s], which)])
        assert ci["difference"] == pytest.approx(per_seed("trained") - per_seed("no PAR"), rel=1e-4)  # float32 counts
        assert ci["low"] <= ci["difference"] <= ci["high"]
    d = read_counts(table["mask-1shot"][0]["trained"][0].path)["distances"]
    ratio = evidence.distance_values(table["mask-1shot"][0]["trained"][:1], 2)[0]
    assert np.allclose(ratio, d[:, :, 1, 0] / d[:, :, 2, 0], equal_nan=True)
    at2 = evidence.curve_effect(table, curves, 2, n_resamples=100)
    step2 = lambda s: np.mean([p["mean_iou"] for c in (e.cell for e in table["mask-1shot"][0][s])
                               for p in curves[c] if p["step"] == 2])
    assert at2["difference"] == pytest.approx(step2("trained") - step2("no PAR")) and at2["folds"] == [0]
    md, rows = evidence.alignment_table(table, curves, steps=(2,), n_resamples=100)
    assert len(rows) == 4 and "step 2" in md and "PAR aligns the prototypes: cosine distance |" in md


def test_a_killed_training_resumes_inside_the_grid(synthetic_voc_root, tmp_path):
    from panet_min.experiments.run import train_cell
    from panet_min.train import train

    grid = load_grid(write_grid(tmp_path / "g.toml", synthetic_voc_root))
    cell = grid.cells[1]
    from panet_min.experiments import train_config

    half = train_config(cell, grid)
    half.iters = 2  # as if killed after step 2 (milestones kept: those of the 4-step schedule)
    train(half)
    train_cell(cell, grid)
    log = (tmp_path / "results" / cell.name / "log.jsonl").read_text().splitlines()
    events = [json.loads(x)["event"] for x in log]
    assert events.count("start") == 1 and events.count("resume") == 1 and events[-1] == "end"


def test_shards_split_the_cells():
    cells = list(range(7))
    parts = [shard(cells, f"{i}/3") for i in range(3)]
    assert sorted(sum(parts, [])) == cells and parts[0] == [0, 3, 6]
    for bad in ("3/3", "1", "a/b", "-1/2"):
        with pytest.raises(ValueError, match="--shard must be I/N"):
            shard(cells, bad)


@pytest.mark.parametrize("extra, message", [
    ('[[group]]\nname = "x"\nseed = [1]\nfold = [0]\nlearning_rate = [0.1]\ntests = "s"\ntag = "lr"', "learning_rate"),
    ('[[group]]\nname = "x"\nseed = [1]\nfold = [0]\ntests = "s"', "two cells are both named f0-1shot-par-s1"),
    ('[[group]]\nname = "x"\nseed = [1]\nfold = [0]\ntests = "nope"\ntag = "t"', "a name from \\[test_sets\\]"),
    ('[[group]]\nname = "x"\nseed = [1]\nfold = [0]\ntag = "t"\ntests = [{shots = 1}, {shots = 1, runs = 3}]',
     "two tests write mask-1shot.json"),
])
def test_a_bad_grid_is_refused_before_any_work(synthetic_voc_root, tmp_path, capsys, extra, message):
    grid_file = write_grid(tmp_path / "g.toml", synthetic_voc_root, extra)
    assert main(["status", str(grid_file)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    import re
    assert re.search(message, err[0])
    assert not (tmp_path / "runs").exists()


def test_the_books_grid_declares_the_evidence():
    grid = load_grid(REPO / "grids" / "msrc-241.toml")
    one_shot = [c for c in grid.cells if c.group == "1-shot"]
    assert len(one_shot) == 18 and {c.train["seed"] for c in one_shot} == {1234, 1235, 1236}
    assert {(c.fold, c.train["par_weight"]) for c in one_shot} == {(f, p) for f in range(3) for p in (0.0, 1.0)}
    tests = {(t["annotation"], t["shots"]) for t in one_shot[0].tests}
    assert tests == {(a, k) for a in ("mask", "scribble", "bbox") for k in (1, 5)}
    assert [c.name for c in grid.cells if c.train is None] == ["f0-notrain", "f1-notrain", "f2-notrain"]


def test_a_stuck_stretch_is_counted_from_the_log():
    """Query loss 0.3, then 0.69 for steps 210-300 (10 lines), then 0.3: with a 5-line mean, the
    stretch at or above 0.55 runs from step 240 to 310, where 4 or 5 of the 5 lines are high (0.612
    and 0.69; 3 of 5 give 0.534 < 0.55)."""
    from panet_min import evidence

    log = [{"event": "step", "step": s, "query_loss": 0.69 if 210 <= s <= 300 else 0.3} for s in range(10, 1001, 10)]
    run = evidence.Run("c", 0, "no PAR", 1, {}, log)
    steps, smooth = evidence.smoothed_loss(run)
    high = steps[(smooth >= evidence.STUCK_LOSS) & (steps > evidence.STUCK_AFTER)]
    assert high[0] == 240 and high[-1] == 310
    assert evidence.stuck_steps(run) == 10 * len(high) == 80
    assert evidence.peak_loss(run) == pytest.approx(0.69)
    calm = evidence.Run("d", 0, "trained", 1, {}, [dict(r, query_loss=0.3) for r in log])
    assert evidence.stuck_steps(calm) == 0 and evidence.peak_loss(calm) == pytest.approx(0.3)
