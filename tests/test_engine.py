"""The evidence engine's rules: precision resolved and recorded, the schedule's milestones, the
collapse diagnostics in the training log, checkpoints scored only on classes they never trained on,
and an evaluation that keeps its counts and resumes."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from panet_min import runsetup
from panet_min.config import EvalConfig, TrainConfig
from panet_min.counts import load_counts, read_counts
from panet_min.diagnostics import StepSignals, parameter_groups
from panet_min.evaluate import evaluate
from panet_min.stats import scores
from panet_min.train import train
from panet_min.viz.curves import read_log


# one thread: fast and bit-reproducible on a shared 2-core machine (conftest.one_thread)
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("flags, expected", [({"avx2", "amx_bf16"}, "bf16"), ({"avx512_bf16", "avx512f"}, "bf16"),
                                             ({"avx2", "avx512f"}, "fp32"), (set(), "fp32")])
def test_auto_precision_follows_the_cpu(monkeypatch, flags, expected):
    monkeypatch.setattr(runsetup, "cpu_flags", lambda: flags)
    assert runsetup.resolve_precision("auto", torch.device("cpu")) == expected
    assert runsetup.resolve_precision("fp32", torch.device("cpu")) == "fp32"
    assert runsetup.resolve_precision("bf16", torch.device("cpu")) == "bf16"
    assert runsetup.resolve_precision("auto", torch.device("cpu"), amp=True) == "bf16"  # the older --amp
    with pytest.raises(ValueError, match="precision must be one of"):
        runsetup.resolve_precision("fp16", torch.device("cpu"))


def test_milestones_follow_the_schedule():
    assert TrainConfig(iters=30000).milestones == [10000, 20000]  # the original's
    assert TrainConfig(iters=1000).milestones == [333, 667]
    assert TrainConfig(iters=1000, milestones=[500]).milestones == [500]


def test_warmup_ramps_then_follows_the_step_schedule():
    from panet_min.train import lr_schedule

    param = torch.nn.Parameter(torch.zeros(1))
    lrs = {}
    for warmup in (0, 4):
        opt = torch.optim.SGD([param], lr=1.0)
        sched = lr_schedule(opt, TrainConfig(iters=12, milestones=[6, 9], gamma=0.1, warmup=warmup))
        seen = []
        for _ in range(12):
            seen.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        lrs[warmup] = seen
    assert lrs[0] == pytest.approx([1.0] * 6 + [0.1] * 3 + [0.01] * 3)
    assert lrs[4] == pytest.approx([0.25, 0.5, 0.75] + [1.0] * 3 + [0.1] * 3 + [0.01] * 3)


def test_parameter_groups_are_the_vgg_blocks():
    from panet_min.backbone import vgg16_encoder

    groups = parameter_groups(vgg16_encoder())
    assert [name for name, _ in groups] == [f"block{b}" for b in range(1, 6)]
    assert [len(p) // 2 for _, p in groups] == [2, 2, 3, 3, 3]  # convs (weight + bias) per block


def test_step_signals_mean_max_and_norms():
    enc = torch.nn.Sequential(torch.nn.Linear(3, 2))
    signals = StepSignals(enc, torch.device("cpu"))
    for scale in (1.0, 3.0):
        for p in enc.parameters():
            p.grad = torch.full_like(p, scale)
        fg, bg = torch.full((1, 1, 4), 2.0), torch.zeros(1, 4)
        signals.add(torch.tensor([scale, scale, 0.0]), (bg, fg))
    out = signals.flush()
    grad_norm = lambda s: s * np.sqrt(6 + 2)  # 8 gradient entries of value s
    assert out["loss"] == pytest.approx(2.0) and out["loss_max"] == pytest.approx(3.0)
    assert out["grad_norm"] == pytest.approx((grad_norm(1) + grad_norm(3)) / 2)
    assert out["grad_norm_max"] == pytest.approx(grad_norm(3))
    assert out["grad_norm_encoder"] == pytest.approx(out["grad_norm"])
    assert out["proto_norm_fg"] == pytest.approx(4.0) and out["proto_norm_bg"] == 0
    assert out["proto_cos_fg_bg"] == 0  # a zero background prototype: cosine 0 (eps in the norm)
    assert signals.flush()["loss_max"] == -np.inf  # started over


def tiny_train(root, out, **kw) -> TrainConfig:
    base = dict(dataset="pascal", data_root=str(root), backbone="small", image_size=40, iters=4, device="cpu",
                out=str(out), log_every=2, checkpoint_every=2, proto_dist_every=2, precision="fp32")
    return TrainConfig(**{**base, **kw})


def test_the_log_records_what_a_collapse_needs(synthetic_voc_root, tmp_path):
    run = train(tiny_train(synthetic_voc_root, tmp_path / "run"))
    records = read_log(run / "log.jsonl")
    start, steps = records[0], [r for r in records if r.get("event") == "step"]
    assert start["precision"] == "fp32" and set(start["machine"]) == {"device", "cpu", "cpu_bf16"}
    assert [r["step"] for r in steps] == [2, 4]
    for r in steps:
        for key in ("loss", "query_loss", "par_loss", "loss_max", "grad_norm", "grad_norm_max", "proto_norm_fg",
                    "proto_norm_bg", "proto_cos_fg_bg", "grad_norm_block1", "grad_norm_block4", "lr", "steps_per_s"):
            assert isinstance(r[key], float) and np.isfinite(r[key]), key
        blocks = [r[f"grad_norm_block{b}"] for b in range(1, 5)]  # the small encoder: 4 blocks
        assert r["loss"] == pytest.approx(r["query_loss"] + r["par_loss"], rel=1e-5)
        assert r["grad_norm_max"] >= r["grad_norm"] > 0 and r["loss_max"] >= r["loss"]
        assert max(blocks) <= r["grad_norm_max"]
    config = json.loads((run / "config.json").read_text())
    assert config["precision"] == "fp32" and config["milestones"] == [1, 3]


def tiny_eval(root, out, **kw) -> EvalConfig:
    base = dict(dataset="pascal", data_root=str(root), backbone="small", runs=2, episodes=6, image_size=40,
                device="cpu", out=str(out), precision="fp32")
    return EvalConfig(**{**base, **kw})


def test_a_checkpoint_is_scored_only_on_classes_it_never_trained_on(synthetic_voc_root, tmp_path, capsys):
    from panet_min.evaluate import main

    run = train(tiny_train(synthetic_voc_root, tmp_path / "fold1", fold=1, iters=2))
    ckpt = str(run / "checkpoint.pt")
    args = ["--dataset", "pascal", "--data-root", str(synthetic_voc_root), "--checkpoint", ckpt, "--runs", "1",
            "--episodes", "2", "--image-size", "40", "--device", "cpu", "--out", str(tmp_path / "r.json")]
    assert main(args + ["--fold", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "trained on fold 1" in err[0] and "aeroplane" in err[0] and "--fold 1" in err[0]
    assert main(args + ["--fold", "0", "--allow-class-overlap"]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["model"]["class_overlap_allowed"] is True
    assert main(args + ["--fold", "1", "--force"]) == 0  # its own test classes: fine
    assert main(args[:1] + ["msrc"] + args[2:] + ["--fold", "1", "--force"]) == 2
    assert "was trained on pascal, not msrc" in capsys.readouterr().err


def test_counts_beside_the_results_give_its_numbers(synthetic_voc_root, tmp_path):
    out = tmp_path / "r.json"
    res = evaluate(tiny_eval(synthetic_voc_root, out, no_train=True, prototype_distance=True))
    arrays = read_counts(out)
    assert arrays["counts"].shape == (2, 6, 3, 2) and arrays["class_ids"].shape == (2, 6, 1)
    assert arrays["distances"].shape == (2, 6, 3, 1) and np.isfinite(arrays["distances"]).all()
    assert ((arrays["distances"][:, :, 1:] >= -1e-3) & (arrays["distances"][:, :, 1:] <= 2)).all()  # 1 - cos
    got = scores(load_counts(out))
    assert got["mean_iou"] == pytest.approx([r["mean_iou"] for r in res["runs"]], abs=1e-12)
    assert got["binary_iou"] == pytest.approx([r["binary_iou"] for r in res["runs"]], abs=1e-12)
    assert res["prototype_distance"]["cosine"] == pytest.approx(float(np.mean(arrays["distances"][:, :, 1])), rel=1e-2)
    assert res["prototype_distance"]["cosine_fg_bg"] == pytest.approx(float(np.mean(arrays["distances"][:, :, 2])),
                                                                      rel=1e-2)
    assert not list(tmp_path.glob("*.partial.*"))  # work in progress removed at the end


def test_an_interrupted_evaluation_resumes_from_its_last_run(synthetic_voc_root, tmp_path, monkeypatch):
    import panet_min.evaluate as ev

    whole = evaluate(tiny_eval(synthetic_voc_root, tmp_path / "whole.json", no_train=True, runs=3))
    real, calls = ev._run_episodes, []

    def dies_in_run_2(*args, **kw):
        calls.append(kw.get("desc"))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kw)

    out = tmp_path / "cut.json"
    monkeypatch.setattr(ev, "_run_episodes", dies_in_run_2)
    with pytest.raises(KeyboardInterrupt):
        evaluate(tiny_eval(synthetic_voc_root, out, no_train=True, runs=3))
    assert (tmp_path / "cut.partial.json").is_file() and not out.exists()
    monkeypatch.setattr(ev, "_run_episodes", lambda *a, **k: (calls.append(k.get("desc")), real(*a, **k))[1])
    resumed = evaluate(tiny_eval(synthetic_voc_root, out, no_train=True, runs=3))
    assert calls[2:] == ["run 2/3", "run 3/3"]  # run 1 was not evaluated again
    strip = lambda runs: [{k: v for k, v in r.items() if k != "wall_time_s"} for r in runs]
    assert strip(resumed["runs"]) == strip(whole["runs"])
    np.testing.assert_array_equal(read_counts(out)["counts"], read_counts(tmp_path / "whole.json")["counts"])
    # another config does not pick up the partial files of this one
    assert ev.load_partial(out, {"other": 1}, "x") is None


def test_results_record_precision_and_machine(synthetic_voc_root, tmp_path):
    res = evaluate(tiny_eval(synthetic_voc_root, tmp_path / "r.json", no_train=True, runs=1, episodes=2))
    assert res["precision"] == "fp32" and res["config"]["precision"] == "fp32"
    assert res["machine"]["cpu"] and isinstance(res["machine"]["cpu_bf16"], list)
    assert res["device"].startswith("cpu (")


def test_grid_file_paths_are_relative(tmp_path):
    from panet_min.experiments import load_grid

    grid = load_grid(Path(__file__).resolve().parents[1] / "grids" / "msrc-241.toml")
    assert not grid.runs_dir.is_absolute() and not grid.results_dir.is_absolute()


def test_gradient_clipping_bounds_each_update(synthetic_voc_root, tmp_path):
    """With --clip-grad c no SGD update moves the weights by more than lr x c (plus weight decay and
    momentum: both zero here); without it the first steps move them further."""
    from panet_min.checkpoint import load_checkpoint
    from panet_min.loading import build_model

    moved = {}
    for clip in (0.0, 0.05):
        cfg = tiny_train(synthetic_voc_root, tmp_path / f"clip{clip}", iters=1, lr=1.0, momentum=0.0,
                         weight_decay=0.0, clip_grad=clip, checkpoint_every=1, log_every=1, milestones=[100])
        torch.manual_seed(cfg.seed)  # the initial weights train() builds after seeding
        start = build_model(cfg, torch.device("cpu")).state_dict()
        run = train(cfg)
        end = load_checkpoint(run / "checkpoint.pt")["model"]
        moved[clip] = float(torch.sqrt(sum(((end[k] - start[k]) ** 2).sum() for k in start)))
        logged = [r for r in read_log(run / "log.jsonl") if r.get("event") == "step"][0]["grad_norm"]
        assert logged > 0.05  # the log keeps the norm before clipping
    assert moved[0.05] == pytest.approx(0.05, rel=1e-3)
    assert moved[0.0] > 0.05


def test_a_stuck_models_large_distances_are_kept_not_overflowed(tmp_path):
    """A training that got stuck grows its features: its Euclidean prototype distances pass 65504
    (float16's largest value). They must come back as stored, not as inf."""
    from panet_min.counts import save_counts

    d = np.array([[[[2.5e5], [0.01], [0.02]]]], dtype=np.float32)  # [R=1, E=1, 3, N=1]
    save_counts(tmp_path / "r.json", {"class_ids": np.ones((1, 1, 1)), "counts": np.ones((1, 1, 3, 2)), "distances": d})
    back = read_counts(tmp_path / "r.json")["distances"]
    assert np.isfinite(back).all() and back[0, 0, 0, 0] == pytest.approx(2.5e5)
