"""Evaluation engine: the protocol's numbers against the literal set-based metric, determinism,
the results schema, checkpoints and weak supports."""
import copy
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from panet_min.config import EvalConfig, TrainConfig
from panet_min.evaluate import load_model_weights, validate_results, evaluate
from panet_min.train import build_model, train
from panet_min.viz.curves import read_log

sys.path.insert(0, str(Path(__file__).resolve().parent))
from panet_min.reference import SetMetric


# one thread: fast and bit-reproducible on a shared 2-core machine (conftest.one_thread)
pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(root, out, **kw) -> EvalConfig:
    base = dict(dataset="pascal", data_root=str(root), backbone="small", no_train=True, runs=2, episodes=5,
                image_size=40, device="cpu", out=None if out is None else str(out), precision="fp32")
    base.update(kw)
    return EvalConfig(**base)


@pytest.fixture(scope="module")
def results(synthetic_voc_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "r.json"
    return evaluate(tiny(synthetic_voc_root, out)), out


def test_numbers_match_the_literal_metric(synthetic_voc_root, results):
    res, _ = results
    from panet_min.backbone import build_encoder
    from panet_min.checkpoint import seed_everything
    from panet_min.data import EpisodeDataset, open_source
    from panet_min.model import PANet

    seed_everything(1234)  # the evaluation seeds before it builds the (random) small encoder
    model = PANet(build_encoder("small")).eval()
    source = open_source("pascal", synthetic_voc_root, "trainaug")
    for r in range(2):
        ds = EpisodeDataset(source, [1, 2, 3, 4, 5], n_episodes=5, seed=1234 + r, image_size=40)
        metric = SetMetric(20)
        with torch.no_grad():
            for i in range(5):  # one episode at a time, as the original test loop
                ep = ds[i]
                out = model(ep["support_images"][None], ep["support_fg"][None], ep["support_bg"][None],
                            ep["query_images"][None])
                metric.record(out.logits[0, 0].argmax(0).numpy(), ep["query_labels"][0].numpy(),
                              ep["class_ids"].tolist())
        with np.errstate(invalid="ignore"):  # a class no query showed: 0/0, as the original
            class_iou, _ = metric.miou([1, 2, 3, 4, 5])
        seen = class_iou[~np.isnan(class_iou)]
        run = res["runs"][r]
        assert run["seed"] == 1234 + r
        assert run["mean_iou"] == pytest.approx(seen.mean(), abs=1e-12)
        assert run["binary_iou"] == pytest.approx(metric.binary()[1], abs=1e-12)
        assert run["unseen_classes"] == [c for c, v in zip([1, 2, 3, 4, 5], class_iou) if np.isnan(v)]
    mious = [run["mean_iou"] for run in res["runs"]]
    assert res["mean_iou"]["mean"] == pytest.approx(np.mean(mious))
    assert res["mean_iou"]["std"] == pytest.approx(np.std(mious))  # ddof 0, as the original


def test_same_seed_same_numbers(synthetic_voc_root, results, tmp_path):
    res, _ = results
    again = evaluate(tiny(synthetic_voc_root, tmp_path / "again.json"))
    for key in ("runs", "mean_iou", "binary_iou", "class_iou"):
        strip = [{k: v for k, v in run.items() if k != "wall_time_s"} for run in again["runs"]] \
            if key == "runs" else again[key]
        ref = [{k: v for k, v in run.items() if k != "wall_time_s"} for run in res["runs"]] \
            if key == "runs" else res[key]
        assert strip == ref
    other = evaluate(tiny(synthetic_voc_root, tmp_path / "other.json", seed=99, runs=1))
    assert other["protocol"]["seeds"] == [99]
    # batching episodes changes nothing but speed
    batched = evaluate(tiny(synthetic_voc_root, tmp_path / "b.json", batch_size=3))
    for a, b in zip(batched["runs"], res["runs"]):
        assert a["mean_iou"] == pytest.approx(b["mean_iou"], abs=1e-6)


def test_results_schema(results):
    res, path = results
    on_disk = json.loads(Path(path).read_text())
    assert validate_results(on_disk) is on_disk
    assert on_disk["data"] == {"dataset": "synthetic", "description": on_disk["data"]["description"],
                               "identity": on_disk["data"]["identity"], "split": "trainaug", "fold": 0, "test_classes": [1, 2, 3, 4, 5],
                               "class_names": ["aeroplane", "bicycle", "bird", "boat", "bottle"],
                               "annotation": "mask", "weak_supports": None}
    assert "generated" in on_disk["data"]["description"]
    assert '"seed": 0' in on_disk["data"]["identity"] and '"n_train": 120' in on_disk["data"]["identity"]
    assert on_disk["precision"] == "fp32" and on_disk["device"].startswith("cpu")
    assert on_disk["model"]["training_steps"] == 0 and on_disk["model"]["par_weight"] is None
    assert on_disk["model"]["alpha"] == 20.0
    assert on_disk["model"]["trained"] is False and on_disk["model"]["backbone"] == "small"
    assert [c["name"] for c in on_disk["class_iou"]] == on_disk["data"]["class_names"]
    assert EvalConfig.from_dict(on_disk["config"]).runs == 2
    broken = copy.deepcopy(on_disk)
    del broken["runs"]
    broken["mean_iou"]["mean"] = 1.5
    broken["class_iou"][0]["id"] = 7
    with pytest.raises(ValueError) as err:
        validate_results(broken)
    for problem in ("missing 'runs'", "mean_iou.mean outside [0, 1]", "class_iou: ids"):
        assert problem in str(err.value)
    with pytest.raises(ValueError, match="schema"):
        validate_results({**on_disk, "schema": "something/0"})
    with pytest.raises(ValueError, match="precision"):
        validate_results({**on_disk, "precision": "fp16"})
    with pytest.raises(ValueError, match="parameter_digest"):
        validate_results({**on_disk, "model": {**on_disk["model"], "parameter_digest": "abc"}})


def test_evaluate_episodes_gives_the_literal_numbers_in_eval_mode(synthetic_voc_root):
    # Each way of feeding episodes (the dataset through its loader, a list, a generator) and each
    # batch size gives the numbers of the original's loop, written out here: one episode at a time,
    # the model in eval mode, the set-based metric.
    from panet_min.backbone import build_encoder
    from panet_min.data import EpisodeDataset, open_source
    from panet_min.evaluate import evaluate_episodes
    from panet_min.model import PANet

    class Spy(torch.nn.Module):  # records the mode the encoder runs in
        def __init__(self, inner):
            super().__init__()
            self.inner, self.modes = inner, []

        def forward(self, x):
            self.modes.append(self.training)
            return self.inner(x)

    torch.manual_seed(5)
    spy = Spy(build_encoder("small"))
    model = PANet(spy).train()
    ds = EpisodeDataset(open_source("pascal", synthetic_voc_root, "trainaug"), [1, 2, 3, 4, 5], ways=2, n_episodes=5,
                        seed=77, image_size=40)
    literal = SetMetric(20)
    with torch.no_grad():
        model.eval()
        for i in range(5):
            ep = ds[i]
            out = model(ep["support_images"][None], ep["support_fg"][None], ep["support_bg"][None],
                        ep["query_images"][None])
            literal.record(out.logits[0, 0].argmax(0).numpy(), ep["query_labels"][0].numpy(), ep["class_ids"].tolist())
        model.train()
    with np.errstate(invalid="ignore"):
        class_iou, _ = literal.miou([1, 2, 3, 4, 5])
    want_miou, want_binary = np.nanmean(class_iou), literal.binary()[1]
    assert 0 < want_miou < 1 and 0 < want_binary < 1
    spy.modes.clear()
    for episodes, batch in ((ds, 2), ([ds[i] for i in range(5)], 3), ((ds[i] for i in range(5)), 1)):
        meter = evaluate_episodes(model, episodes, batch_size=batch, progress=False)
        assert model.training and spy.training  # its mode is restored
        assert meter.n_records == 5 and meter.n_classes == (20 if episodes is ds else 255)
        assert meter.mean_iou([1, 2, 3, 4, 5])[1] == pytest.approx(want_miou, abs=1e-12)
        assert meter.binary_iou()[1] == pytest.approx(want_binary, abs=1e-12)
    assert spy.modes and not any(spy.modes)  # every forward ran in eval mode


def test_results_names_and_no_overwrite(synthetic_voc_root, tmp_path, monkeypatch):
    from panet_min.evaluate import default_results_path, main

    runs = {}
    for lam in (1.0, 0.0):
        runs[lam] = train(TrainConfig(dataset="pascal", data_root=str(synthetic_voc_root), backbone="small",
                                      image_size=40, iters=1, device="cpu", par_weight=lam,
                                      out=str(tmp_path / f"run{lam:g}"), log_every=1))
    names = {lam: default_results_path(tiny(synthetic_voc_root, None, no_train=False, backbone=None,
                                            checkpoint=str(run / "checkpoint.pt")), "trainaug").name
             for lam, run in runs.items()}
    assert names[1.0].endswith("_trainaug_run1-par.json") and names[0.0].endswith("_trainaug_run0-nopar.json")
    assert default_results_path(tiny(synthetic_voc_root, None), "val").name == \
        "pascal_fold0_1way_1shot_mask_val_notrain-small.json"
    monkeypatch.chdir(tmp_path)
    cfg = tiny(synthetic_voc_root, None, no_train=False, backbone=None, checkpoint=str(runs[0.0] / "checkpoint.pt"),
               runs=1, episodes=2)
    res = evaluate(cfg)
    path = Path("results") / names[0.0]
    assert json.loads(path.read_text())["model"]["par_weight"] == 0.0 and res["model"]["training_steps"] == 1
    before = path.read_text()
    with pytest.raises(ValueError, match=f"{path.name} already exists: pass --force"):
        evaluate(cfg)
    assert path.read_text() == before
    assert main(["--dataset", "pascal", "--data-root", str(synthetic_voc_root), "--checkpoint",
                 str(runs[0.0] / "checkpoint.pt"), "--runs", "1", "--episodes", "2", "--image-size", "40",
                 "--device", "cpu"]) == 2  # refused: the file exists
    evaluate(cfg, force=True)
    assert json.loads(path.read_text())["date"] >= json.loads(before)["date"]


def test_checkpoint_and_weak_supports(synthetic_voc_root, tmp_path):
    from panet_min.data import EpisodeDataset, open_source
    from panet_min.model import PANet

    run = train(TrainConfig(dataset="pascal", data_root=str(synthetic_voc_root), backbone="small", image_size=40,
                            iters=2, device="cpu", out=str(tmp_path / "run"), log_every=1))
    model = PANet.from_checkpoint(run / "checkpoint.pt")
    source = open_source("pascal", synthetic_voc_root, "trainaug")
    scores, masks = {}, {}
    for annotation in ("mask", "bbox", "scribble"):
        res = evaluate(tiny(synthetic_voc_root, tmp_path / f"{annotation}.json", no_train=False, backbone=None,
                            checkpoint=str(run / "checkpoint.pt"), annotation=annotation, runs=1, episodes=6))
        assert res["model"]["trained"] and res["model"]["checkpoint_step"] == 2
        assert res["model"]["backbone"] == "small"  # taken from the checkpoint's config
        assert res["data"]["annotation"] == annotation
        assert "trained by panet_min.train (2 steps)" in res["model"]["weights_info"]
        # the result names the weights it scored as the training log does: its final state
        (end,) = [r for r in read_log(run / "log.jsonl") if r["event"] == "end"]
        assert res["model"]["parameter_digest"] == end["param_digests"][0]
        # the episodes it scored, rebuilt: their support masks give its number (the literal metric)
        ds = EpisodeDataset(source, [1, 2, 3, 4, 5], n_episodes=6, seed=res["runs"][0]["seed"], image_size=40,
                            annotation=annotation)
        metric = SetMetric(20)
        masks[annotation] = []
        model.allow_empty_support = annotation != "mask"  # an empty weak support: a zero prototype, as evaluate
        with torch.no_grad():
            for i in range(6):
                ep = ds[i]
                masks[annotation].append((ep["support_ids"], ep["support_fg"].bool(), ep["support_bg"].bool()))
                out = model(ep["support_images"][None], ep["support_fg"][None], ep["support_bg"][None],
                            ep["query_images"][None])
                metric.record(out.logits[0, 0].argmax(0).numpy(), ep["query_labels"][0].numpy(),
                              ep["class_ids"].tolist())
        with np.errstate(invalid="ignore"):
            class_iou, _ = metric.miou([1, 2, 3, 4, 5])
        scores[annotation] = res["runs"][0]["mean_iou"]
        assert scores[annotation] == pytest.approx(np.nanmean(class_iou), abs=1e-9)
    # the weak supports are other masks of the same supports ...
    for (ids, fg, bg), (bids, bfg, bbg), (sids, sfg, sbg) in zip(masks["mask"], masks["bbox"], masks["scribble"]):
        assert ids == bids == sids
        rows, cols = bfg[0, 0].any(1).nonzero(), bfg[0, 0].any(0).nonzero()
        box = torch.zeros_like(bfg[0, 0])
        box[rows.min():rows.max() + 1, cols.min():cols.max() + 1] = True
        assert torch.equal(bfg[0, 0], box) and not (bfg & bbg).any()  # a filled box, background outside
        assert (sfg & ~fg).sum() == 0 and sfg.sum() < fg.sum() / 2  # a scribble: a few pixels of the object
    assert any(not torch.equal(b[1], m[1]) for b, m in zip(masks["bbox"], masks["mask"]))
    # ... and they change the score
    assert len({round(v, 9) for v in scores.values()}) == 3, scores
    with pytest.raises(ValueError, match="--checkpoint PATH"):
        evaluate(tiny(synthetic_voc_root, tmp_path / "x.json", no_train=False))
    with pytest.raises(ValueError, match="holds a small model"):
        evaluate(tiny(synthetic_voc_root, tmp_path / "x.json", no_train=False, backbone="vgg16",
                      checkpoint=str(run / "checkpoint.pt")))


def test_load_an_original_style_snapshot():
    # the original saves nn.DataParallel(FewShotSeg) state dicts: other key names, same conv order
    src = build_model(TrainConfig(backbone="small", device="cpu"), torch.device("cpu"))
    snapshot = {f"module.encoder.backbone.{k}": v.clone() for k, v in src.state_dict().items()}
    torch.manual_seed(1)
    dst = build_model(TrainConfig(backbone="small", device="cpu"), torch.device("cpu"))
    load_model_weights(dst, snapshot)
    for a, b in zip(src.state_dict().values(), dst.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="does not fit"):
        load_model_weights(dst, {"module.encoder.x.weight": torch.zeros(3)})
