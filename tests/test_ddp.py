"""DistributedDataParallel with 2 CPU processes (gloo), launched by torchrun as a user would."""
import json
import os
import subprocess
import sys

import torch

from panet_min.checkpoint import load_checkpoint
from panet_min.distributed import episode_index, parameter_digest


def test_each_rank_draws_its_own_episodes():
    W, E, steps = 3, 2, 4
    seen = [episode_index(s, r, W, E, e) for s in range(steps) for r in range(W) for e in range(E)]
    assert sorted(seen) == list(range(steps * W * E))  # every episode once, no rank shares one
    assert episode_index(5, 0, 1, 1, 0) == 5  # one process, one episode per step: episode = step


def test_two_cpu_processes_end_with_identical_weights(synthetic_voc_root, tmp_path):
    run = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "panet_min.train", "--data-root", str(synthetic_voc_root), "--dataset", "pascal",
           "--backbone", "small", "--image-size", "40", "--iters", "3", "--device", "cpu",
           "--out", str(run), "--log-every", "1", "--checkpoint-every", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CI": "true"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    assert lines[0]["world_size"] == 2
    assert [x["step"] for x in lines if x["event"] == "step"] == [1, 2, 3]  # rank 0 alone writes
    digests = lines[-1]["param_digests"]
    assert len(digests) == 2 and digests[0] == digests[1]  # both ranks hold the same weights
    ck = load_checkpoint(run / "checkpoint.pt")
    assert ck["step"] == 3

    from panet_min.train import build_model
    from panet_min.config import TrainConfig
    model = build_model(TrainConfig(backbone="small", device="cpu"), torch.device("cpu"))
    model.load_state_dict(ck["model"])
    assert parameter_digest(model) == digests[0]  # the checkpoint is rank 0's final state
