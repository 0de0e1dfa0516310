"""Training engine: resume bit-identity, kill-and-resume, atomic checkpoints, config, log."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from panet_min.checkpoint import WriteError, atomic_save, load_checkpoint, rng_state, set_rng_state
from panet_min.config import EvalConfig, TrainConfig
from panet_min.train import prototype_distance, train

REPO = Path(__file__).resolve().parents[1]
# Bit-identity holds for a fixed number of CPU threads (MKL/oneDNN split their sums by thread):
# the tests pin one thread here and in the child processes.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "CI": "true"}


# one thread: fast and bit-reproducible on a shared 2-core machine (conftest.one_thread)
pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(root, out, **kw) -> TrainConfig:
    """A run small enough for a unit test: small backbone, 40x40 images, CPU."""
    base = dict(dataset="pascal", data_root=str(root), backbone="small", image_size=40, iters=4,
                device="cpu", out=str(out), log_every=1, checkpoint_every=2, proto_dist_every=2,
                milestones=[1, 3], precision="fp32")
    base.update(kw)
    return TrainConfig(**base)


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs"


def test_resume_is_bit_identical(synthetic_voc_root, tmp_path):
    straight = train(tiny(synthetic_voc_root, tmp_path / "straight", iters=4))
    half = tiny(synthetic_voc_root, tmp_path / "half", iters=2)
    train(half)
    assert load_checkpoint(tmp_path / "half" / "checkpoint.pt")["step"] == 2
    with open(tmp_path / "half" / "log.jsonl", "a") as f:  # as if killed while writing step 3
        f.write('{"event": "step", "step": 3, "lo')
    train(tiny(synthetic_voc_root, tmp_path / "half", iters=4), resume=True)
    a = load_checkpoint(straight / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "half" / "checkpoint.pt")
    assert a["step"] == b["step"] == 4
    assert_same_state(a["model"], b["model"])
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert torch.equal(sa["momentum_buffer"], sb["momentum_buffer"])
    # the resumed log has one line per step, as the straight one
    steps = [json.loads(x).get("step") for x in (tmp_path / "half" / "log.jsonl").read_text().splitlines()
             if json.loads(x)["event"] == "step"]
    assert steps == [1, 2, 3, 4]
    events = [json.loads(x)["event"] for x in (tmp_path / "half" / "log.jsonl").read_text().splitlines()]
    assert events == ["start", "step", "step", "resume", "step", "step", "end"]


def test_kill_and_resume(synthetic_voc_root, tmp_path):
    run = tmp_path / "killed"
    cmd = [sys.executable, "-m", "panet_min.train", "--data-root", str(synthetic_voc_root), "--dataset", "pascal",
           "--backbone", "small", "--image-size", "40", "--iters", "1000", "--device", "cpu",
           "--out", str(run), "--checkpoint-every", "2", "--log-every", "1", "--milestones", "1,3",
           "--precision", "fp32"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, **ONE_THREAD})
    ckpt = run / "checkpoint.pt"
    deadline = time.monotonic() + 120
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ckpt.exists(), proc.stderr.read().decode()
    step = load_checkpoint(ckpt)["step"]  # intact after the kill
    assert 2 <= step < 1000 and step % 2 == 0
    target = step + 2
    train(tiny(synthetic_voc_root, run, iters=target, checkpoint_every=2), resume=True)
    straight = train(tiny(synthetic_voc_root, tmp_path / "straight", iters=target))
    assert_same_state(load_checkpoint(ckpt)["model"], load_checkpoint(straight / "checkpoint.pt")["model"])


def test_checkpoint_write_is_atomic(synthetic_voc_root, tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    atomic_save({"step": 1, "w": torch.ones(3)}, path)
    real_save = torch.save

    def crash(obj, f, *a, **k):  # write half a file, then die
        f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(WriteError, match="simulated") as err:  # a ValueError: one line on a command line
        atomic_save({"step": 2, "w": torch.zeros(3)}, path)
    assert str(path) in str(err.value) and isinstance(err.value.__cause__, OSError)
    monkeypatch.setattr(torch, "save", real_save)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]  # no partial file left
    old = load_checkpoint(path)
    assert old["step"] == 1 and torch.equal(old["w"], torch.ones(3))

    # the same inside training: the 2nd checkpoint fails, the 1st one stays readable
    calls = []

    def save_then_crash(obj, f, *a, **k):
        calls.append(1)
        if len(calls) == 2:
            crash(obj, f)
        return real_save(obj, f, *a, **k)

    monkeypatch.setattr(torch, "save", save_then_crash)
    run = tmp_path / "run"
    with pytest.raises(WriteError, match="simulated"):
        train(tiny(synthetic_voc_root, run, iters=4, checkpoint_every=2))
    monkeypatch.setattr(torch, "save", real_save)
    assert load_checkpoint(run / "checkpoint.pt")["step"] == 2
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
    # and the run resumes from it
    train(tiny(synthetic_voc_root, run, iters=4), resume=True)
    assert load_checkpoint(run / "checkpoint.pt")["step"] == 4


def test_checkpoint_contents_and_log(synthetic_voc_root, tmp_path):
    run = train(tiny(synthetic_voc_root, tmp_path / "r", iters=3, milestones=[2], gamma=0.1, log_every=1))
    ck = torch.load(run / "checkpoint.pt", weights_only=True)
    assert {"model", "optimizer", "scheduler", "step", "rng", "config"} <= set(ck)
    assert ck["config"] == json.loads((run / "config.json").read_text())
    assert TrainConfig.from_dict(ck["config"]).iters == 3
    lines = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    assert [x["event"] for x in lines] == ["start", "step", "step", "step", "end"]
    steps = lines[1:4]
    # MultiStepLR after each step: lr of step 1 and 2 is logged after their update
    assert [s["lr"] for s in steps] == pytest.approx([1e-3, 1e-4, 1e-4])
    for s in steps:
        assert s["loss"] == pytest.approx(s["query_loss"] + s["par_loss"], rel=1e-5)
        assert s["par_loss"] > 0
    assert steps[1]["proto_dist"] > 0 and "proto_dist" not in steps[0]
    assert steps[2]["proto_dist"] > 0  # the last step always logs it


def test_no_par_and_resume_guard(synthetic_voc_root, tmp_path):
    run = train(tiny(synthetic_voc_root, tmp_path / "r", iters=2, par_weight=0.0))
    lines = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    assert all(x["par_loss"] == 0 for x in lines if x["event"] == "step")
    with pytest.raises(ValueError, match="already holds a checkpoint"):
        train(tiny(synthetic_voc_root, tmp_path / "r", iters=2, par_weight=0.0))
    with pytest.raises(ValueError, match="shots=2 but the run was started with shots=1"):
        train(tiny(synthetic_voc_root, tmp_path / "r", iters=4, par_weight=0.0, shots=2), resume=True)
    with pytest.raises(ValueError, match="already at step 2"):
        train(tiny(synthetic_voc_root, tmp_path / "r", iters=2, par_weight=0.0), resume=True)
    # killed after the last save, before the log's "end" line: resuming closes the run, nothing retrained
    log = run / "log.jsonl"
    ended = log.read_text()
    log.write_text("".join(x + "\n" for x in ended.splitlines() if json.loads(x)["event"] != "end"))
    before = (run / "checkpoint.pt").read_bytes()
    train(tiny(synthetic_voc_root, tmp_path / "r", iters=2, par_weight=0.0), resume=True)
    events = [json.loads(x)["event"] for x in log.read_text().splitlines()]
    assert events[-2:] == ["resume", "end"] and events.count("step") == 2
    assert json.loads(log.read_text().splitlines()[-1])["param_digests"] == \
        json.loads(ended.splitlines()[-1])["param_digests"]
    assert (run / "checkpoint.pt").read_bytes() == before


def test_config_round_trip_and_defaults():
    t = TrainConfig()
    # the original protocol
    assert (t.backbone, t.weights, t.ways, t.shots, t.queries, t.iters, t.image_size, t.seed) == \
        ("vgg16", "imagenet", 1, 1, 1, 30000, 417, 1234)
    assert (t.lr, t.momentum, t.weight_decay, t.milestones, t.gamma, t.par_weight, t.episodes_per_step) == \
        (1e-3, 0.9, 5e-4, [10000, 20000], 0.1, 1.0, 1)
    assert TrainConfig(backbone="small").weights == "none"
    custom = TrainConfig(dataset="camvid", fold=1, shots=5, milestones=[3, 7], amp=True, out="x")
    assert TrainConfig.from_json(custom.to_json()) == custom
    e = EvalConfig(annotation="bbox", no_train=True, runs=2)
    assert EvalConfig.from_json(e.to_json()) == e
    assert (EvalConfig().runs, EvalConfig().episodes, EvalConfig().seed) == (5, 1000, 1234)
    with pytest.raises(ValueError, match="unknown TrainConfig field"):
        TrainConfig.from_dict({"wayz": 2})
    for bad in ({"ways": 0}, {"shots": -1}, {"iters": 1.5}, {"dataset": "voc2007"}, {"lr": 0.0},
                {"device": "tpu"}, {"backbone": "resnet"}):
        with pytest.raises(ValueError):
            TrainConfig(**bad)
    with pytest.raises(ValueError, match="not both"):
        EvalConfig(checkpoint="x.pt", no_train=True)


def test_rng_state_round_trip(tmp_path):
    import random

    import numpy as np
    state = rng_state()
    a = (torch.rand(3), np.random.rand(3), random.random())
    atomic_save({"rng": state}, tmp_path / "s.pt")
    set_rng_state(torch.load(tmp_path / "s.pt", weights_only=True)["rng"])
    b = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]


def test_prototype_distance_known_answer():
    class Identity(torch.nn.Module):
        encoder = torch.nn.Identity()

    # features = the images themselves (C = 3, stride 1); query 1 has class 1 on its left half
    q = torch.zeros(1, 2, 3, 4, 4)
    q[0, 0, :, :, :2] = torch.tensor([1.0, 2.0, 3.0]).view(3, 1, 1)
    labels = torch.zeros(1, 2, 4, 4, dtype=torch.long)
    labels[0, 0, :, :2] = 1
    labels[0, 1, 0, 0] = 255
    support_fg = torch.tensor([[[1.0, 2.0, 7.0]]])  # [B=1, N=1, C=3]
    d = prototype_distance(Identity(), q, labels, support_fg)
    # query prototype = (1, 2, 3) * 8 / (8 + 1e-5) (query 2 has no class-1 pixel)
    expected = torch.linalg.norm(torch.tensor([1.0, 2.0, 3.0]) * 8 / (8 + 1e-5) - support_fg[0, 0])
    assert float(d) == pytest.approx(float(expected), rel=1e-6)


def test_the_checkpoint_holds_the_protocol_optimizer(synthetic_voc_root, tmp_path):
    # defaults of TrainConfig, read back from what a real run saved (not from the config object)
    run = train(tiny(synthetic_voc_root, tmp_path / "r", iters=2, milestones=TrainConfig().milestones))
    ck = load_checkpoint(run / "checkpoint.pt")
    group = ck["optimizer"]["param_groups"][0]
    assert (group["lr"], group["initial_lr"], group["momentum"], group["weight_decay"]) == (1e-3, 1e-3, 0.9, 5e-4)
    assert len(ck["optimizer"]["param_groups"]) == 1  # weight decay on all parameters, as the original
    assert group["dampening"] == 0 and group["nesterov"] is False
    assert dict(ck["scheduler"]["milestones"]) == {10000: 1, 20000: 1} and ck["scheduler"]["gamma"] == 0.1


def test_lambda_scales_the_par_term(synthetic_voc_root, tmp_path):
    logs = {}
    for lam in (1.0, 0.5):
        run = train(tiny(synthetic_voc_root, tmp_path / f"l{lam}", iters=1, par_weight=lam))
        logs[lam] = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()][1]
    full, half = logs[1.0], logs[0.5]
    # same weights and episode before the first update: the same two losses, PAR weighted by lambda
    assert half["query_loss"] == pytest.approx(full["query_loss"], rel=1e-6)
    assert half["par_loss"] == pytest.approx(full["par_loss"], rel=1e-6) and full["par_loss"] > 0
    assert half["loss"] - half["query_loss"] == pytest.approx(0.5 * (full["loss"] - full["query_loss"]), rel=1e-4)


def test_default_initialisation_is_the_originals():
    # the original: kaiming_normal_(weight, nonlinearity="relu") (fan_in) on every conv, PyTorch's
    # default bias init; replayed here on the same random stream
    from torch import nn

    from panet_min.train import build_model

    torch.manual_seed(3)
    model = build_model(TrainConfig(backbone="small", device="cpu"), torch.device("cpu"))
    torch.manual_seed(3)
    convs = [nn.Conv2d(3, 32, 3, padding=1), nn.Conv2d(32, 48, 3, padding=1), nn.Conv2d(48, 64, 3, padding=1),
             nn.Conv2d(64, 64, 3, padding=2, dilation=2)]
    for conv in convs:
        nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
    got = model.encoder.convs()
    assert len(got) == len(convs)
    for a, b in zip(got, convs):
        assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
        assert a.dilation == b.dilation and a.padding == b.padding


def test_kept_snapshots_are_the_weights_of_their_step(synthetic_voc_root, tmp_path):
    """--keep-every N keeps step-NNNNN.pt; the one of step 2 holds the weights a 2-step run ends with."""
    run = train(tiny(synthetic_voc_root, tmp_path / "r", iters=4, keep_every=2))
    assert sorted(p.name for p in run.glob("step-*.pt")) == ["step-00002.pt"]  # the end is checkpoint.pt
    kept = torch.load(run / "step-00002.pt", weights_only=True)
    assert kept["step"] == 2 and "optimizer" not in kept
    short = train(tiny(synthetic_voc_root, tmp_path / "short", iters=2))
    assert_same_state(kept["model"], torch.load(short / "checkpoint.pt", weights_only=True)["model"])


def test_training_lowers_the_loss_on_the_episodes_it_trained_on(synthetic_voc_root, tmp_path):
    """30 real steps of panet_min.train (small encoder, 40 px, lr 0.01) fit their own episodes: the
    query loss of the trained weights on the first 8 training episodes is well below that of the
    initial weights. A loop that never updates (optimizer.step skipped, or zero_grad after backward:
    every gradient None) leaves the weights as they were, and the two losses equal."""
    from panet_min.checkpoint import seed_everything
    from panet_min.data import EpisodeDataset, fold_classes, open_source
    from panet_min.model import query_loss
    from panet_min.train import build_model

    config = tiny(synthetic_voc_root, tmp_path / "fit", iters=30, lr=0.01, milestones=[30], checkpoint_every=30,
                  proto_dist_every=30)
    run = train(config)
    # the initial weights, rebuilt as train() builds them: seeded, then the model
    seed_everything(config.seed)
    initial = build_model(config, torch.device("cpu")).eval()
    trained = build_model(config, torch.device("cpu")).eval()
    trained.load_state_dict(load_checkpoint(run / "checkpoint.pt")["model"])
    episodes = EpisodeDataset(open_source("pascal", synthetic_voc_root, "trainaug"), fold_classes("pascal", 0, True),
                              n_episodes=config.iters, seed=config.seed, image_size=config.image_size, train=True)

    def mean_loss(model):
        losses = []
        with torch.no_grad():
            for i in range(8):
                ep = episodes[i]
                out = model(ep["support_images"][None], ep["support_fg"][None], ep["support_bg"][None],
                            ep["query_images"][None])
                losses.append(query_loss(out.logits, ep["query_labels"][None]).item())
        return sum(losses) / len(losses), losses

    before, per_episode = mean_loss(initial)
    after, _ = mean_loss(trained)
    # the rebuilt start is training's own: its loss on episode 0 is the one logged at step 1
    first = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()][1]
    assert first["event"] == "step" and first["step"] == 1
    assert per_episode[0] == pytest.approx(first["query_loss"], rel=1e-5)
    assert after < 0.85 * before, (before, after)
