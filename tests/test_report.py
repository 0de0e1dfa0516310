"""Chapter 10's tables: built from the recorded fields of results JSON files, nothing else."""
import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from panet_min import report

RESULTS = Path(__file__).resolve().parents[1] / "src" / "panet_min" / "results"
PAR, NOTRAIN = "camvid-f0-1shot-par.json", "camvid-f0-1shot-notrain.json"


def read(name):
    return json.loads((RESULTS / name).read_text())


@pytest.fixture
def folder(tmp_path):
    for name in (PAR, NOTRAIN, "gpu_summary.json"):
        shutil.copy(RESULTS / name, tmp_path / name)
    (tmp_path / "broken.json").write_text("{not json")
    bad = read(PAR)
    del bad["runs"]
    (tmp_path / "incomplete.json").write_text(json.dumps(bad))
    return tmp_path


def test_load_results_validates_and_lists_the_rejected(folder):
    results, rejected = report.load_results(folder)
    assert [name for name, _ in results] == [NOTRAIN, PAR]
    assert [name for name, _ in rejected] == ["broken.json", "incomplete.json"]
    assert "missing 'runs'" in dict(rejected)["incomplete.json"]


def test_describe_reads_recorded_fields_not_names(folder):
    r = read(PAR)
    renamed = folder / "pascal_fold3_5shot_notrain.json"  # a misleading name changes nothing
    shutil.copy(folder / PAR, renamed)
    (_, par), = [x for x in report.load_results(folder)[0] if x[0] == renamed.name]
    d = report.describe(par)
    assert (d["dataset"], d["fold"], d["shots"], d["trained"], d["par"], d["steps"]) == ("camvid", 0, 1, True, 1.0, 2000)
    assert d["data"] == r["data"]["description"] and d["weights"] == r["model"]["weights_info"]
    assert d["precision"] == "bf16"  # recorded as amp: true in this older file
    assert report.setting(par) == "1-shot, PAR (lambda=1)"
    assert report.setting(read(NOTRAIN)) == "1-shot, no training"
    nopar = read("camvid-f0-5shot-nopar.json")
    assert report.setting(nopar) == "5-shot, no PAR (lambda=0)"
    newer = copy.deepcopy(nopar)  # the fields evaluate records now win over the stored config
    newer["model"].update(par_weight=0.5, training_steps=7)
    newer["precision"] = "fp32"
    assert report.setting(newer) == "5-shot, PAR (lambda=0.5)" and report.describe(newer)["steps"] == 7
    assert report.describe(newer)["precision"] == "fp32"
    unknown = copy.deepcopy(nopar)
    unknown["model"]["trained_config"] = None
    assert report.setting(unknown) == "5-shot, lambda n/a"
    assert report.find([("u", unknown)], par=False) == []


def test_find_matches_facts():
    results = [(n, read(n)) for n in (PAR, NOTRAIN, "camvid-f0-5shot-nopar.json")]
    assert [n for n, _ in report.find(results, dataset="camvid", shots=1, trained=True, par=True)] == [PAR]
    assert [n for n, _ in report.find(results, par=False)] == ["camvid-f0-5shot-nopar.json"]
    assert report.find(results, dataset="pascal") == []
    with pytest.raises(ValueError, match="unknown fact"):
        report.find(results, shot=1)


def test_summary_table_mean_and_std_over_runs():
    r = read(PAR)
    table = report.summary_table([(PAR, r)])
    lines = table.splitlines()
    assert lines[0].startswith("| setting | mean-IoU (%) | binary IoU (%) |") and len(lines) == 3
    mious = [run["mean_iou"] for run in r["runs"]]
    cells = [c.strip() for c in lines[2].strip("|").split("|")]
    assert cells[0] == "1-shot, PAR (lambda=1)"
    assert cells[1] == f"{100 * np.mean(mious):.1f} ± {100 * np.std(mious):.1f}"
    assert cells[3] == "2000" and cells[-1] == PAR and cells[-2] == "NVIDIA H200, bf16"


def test_class_and_binary_tables():
    par, notrain = read(PAR), read(NOTRAIN)
    table = report.class_iou_table([(PAR, par), (NOTRAIN, notrain)])
    header = [c.strip() for c in table.splitlines()[0].strip("|").split("|")]
    assert header == ["setting", *par["data"]["class_names"], "file"]
    first = par["class_iou"][0]
    assert f"{100 * first['mean']:.1f} ± {100 * first['std']:.1f}" in table.splitlines()[2]
    other = copy.deepcopy(par)
    other["data"]["class_names"] = list(reversed(other["data"]["class_names"]))
    with pytest.raises(ValueError, match="one table per class set"):
        report.class_iou_table([(PAR, par), ("x", other)])
    binary = report.binary_iou_table([(PAR, par)])
    fg = [run["binary_class_iou"][1] for run in par["runs"]]
    assert f"{100 * np.mean(fg):.1f} ± {100 * np.std(fg):.1f}" in binary
    assert report.format_score(par["binary_iou"]["mean"], par["binary_iou"]["std"]) in binary


def test_experiment_from_the_recorded_training_config():
    par, nopar = read("msrc-f0-1shot-par.json"), read("camvid-f0-5shot-nopar.json")
    assert report.experiment(read("msrc-f0-1shot-notrain.json")) == "no training"
    assert report.experiment(par) == "trained" and report.experiment(nopar) == "no PAR"
    for option, name in (("stuff_as_training", "stuff as training"), ("strict", "strict")):
        other = copy.deepcopy(par)
        other["model"]["trained_config"][option] = True
        assert report.experiment(other) == name and report.describe(other)["experiment"] == name
    unknown = copy.deepcopy(nopar)
    unknown["model"]["trained_config"] = None
    unknown["model"].pop("par_weight", None)
    with pytest.raises(ValueError, match="lambda"):
        report.experiment(unknown)
    assert report.describe(unknown)["experiment"] is None


def test_load_curve(tmp_path):
    (tmp_path / "curve").mkdir()
    point = read("msrc-f0-1shot-par.json")
    point["model"]["training_steps"] = 250
    (tmp_path / "curve" / "a.json").write_text(json.dumps(point))
    (got,) = report.load_curve(tmp_path)
    assert (got["fold"], got["experiment"], got["step"], got["seed"]) == (0, "trained", 250, 1234)
    assert got["mean_iou"] == point["runs"][0]["mean_iou"]
    (tmp_path / "curve" / "b.json").write_text("{}")
    with pytest.raises(ValueError, match="b.json"):
        report.load_curve(tmp_path)
    assert report.load_curve(tmp_path / "nothing") == []


def test_by_experiment_one_result_per_fold_and_experiment():
    results = [(n, read(n)) for n in ("msrc-f0-1shot-par.json", "msrc-f0-1shot-notrain.json",
                                      "msrc-f1-1shot-notrain.json", PAR)]
    table = report.by_experiment(results, dataset="msrc", shots=1)
    assert list(table) == [0, 1]
    assert sorted(table[0]) == ["no training", "trained"] and list(table[1]) == ["no training"]
    assert table[0]["trained"] is results[0][1]
    with pytest.raises(ValueError, match="both fold 0"):
        report.by_experiment(results + [("copy.json", read("msrc-f0-1shot-par.json"))], dataset="msrc")


def test_difference_is_in_points_against_the_larger_std():
    d = report.difference({"mean": 0.50, "std": 0.01}, {"mean": 0.53, "std": 0.02})
    assert abs(d["points"] - 3.0) < 1e-9 and abs(d["noise"] - 2.0) < 1e-9
    assert not d["beyond_noise"]  # 3 points <= 2 x 2
    d = report.difference({"mean": 0.55, "std": 0.01}, {"mean": 0.50, "std": 0.01})
    assert abs(d["points"] + 5.0) < 1e-9 and d["beyond_noise"]  # a loss beyond the noise counts too


def test_by_experiment_keeps_one_training_seed():
    par = read("msrc-f0-1shot-par.json")
    other = copy.deepcopy(par)
    other["model"]["trained_config"]["seed"] = 1235
    results = [("par.json", par), ("par-seed1235.json", other), ("notrain.json", read("msrc-f0-1shot-notrain.json"))]
    assert report.describe(other)["train_seed"] == 1235 and report.train_seed(results[2][1]) is None
    for seed, want in ((1234, par), (1235, other)):
        table = report.by_experiment(results, train_seed=seed, dataset="msrc")
        assert table[0]["trained"] is want and "no training" in table[0]  # the untrained model has no seed
    with pytest.raises(ValueError, match="both fold 0"):
        report.by_experiment(results, dataset="msrc")


def test_training_log_is_the_evaluated_runs(tmp_path):
    r = read("msrc-f2-1shot-nopar.json")
    records = report.training_log(r)  # shipped: results/runs/<folder of model.checkpoint>/log.jsonl
    assert records == [json.loads(line) for line in
                       (RESULTS / "runs" / "msrc-f2-1shot-nopar" / "log.jsonl").read_text().splitlines()]
    assert report.last_logged(records) == [e for e in records if e["event"] == "step"][-1]["query_loss"]
    assert report.training_log(read("msrc-f2-1shot-notrain.json")) is None
    assert report.training_log(r, tmp_path) is None  # no log shipped there
    run = tmp_path / "runs" / "msrc-f2-1shot-nopar"
    run.mkdir(parents=True)
    end = {"event": "end", "step": r["model"]["checkpoint_step"], "param_digests": ["a" * 64]}
    (run / "log.jsonl").write_text(json.dumps({"event": "step", "step": 1, "query_loss": 0.5}) + "\n"
                                   + json.dumps(end) + "\n")
    assert report.training_log(r, tmp_path)[-1] == end  # older results record no digest: not checked
    r["model"]["parameter_digest"] = "b" * 64
    with pytest.raises(ValueError, match="not the evaluated ones"):
        report.training_log(r, tmp_path)
    r["model"]["parameter_digest"] = "a" * 64
    assert report.training_log(r, tmp_path)[0]["query_loss"] == 0.5


def test_training_table_rows_from_the_logs():
    results = [(n, read(n)) for n in ("msrc-f2-1shot-nopar.json", "msrc-f2-1shot-par.json",
                                      "msrc-f2-1shot-notrain.json")]
    lines = report.training_table(results).splitlines()
    assert len(lines) == 4  # header, rule, the two trained models (the untrained one has no log)
    par, nopar = results[1][1], results[0][1]
    for line, r in zip(lines[2:], (par, nopar)):  # sorted: "trained" before "no PAR"
        cells = [c.strip() for c in line.strip("|").split("|")]
        records = report.training_log(r)
        first = [e for e in records if e["event"] == "step"][0]["query_loss"]
        assert cells[:3] == ["2", report.experiment(r), "1234"]
        dist = [e["proto_dist"] for e in records if e.get("proto_dist") is not None][-1]
        assert cells[3:] == [f"{first:.2f}", f"{report.last_logged(records):.2f}", f"{dist:,.0f}",
                             report.format_score(r["mean_iou"]["mean"], r["mean_iou"]["std"])]


def test_training_runs_are_the_shipped_logs_in_table_order():
    results = [(n, read(n)) for n in ("msrc-f2-1shot-nopar.json", "msrc-f2-1shot-notrain.json",
                                      "msrc-f2-1shot-par.json")]
    runs = report.training_runs(results)
    assert [(d["experiment"], r is results[i][1]) for (d, r, _), i in zip(runs, (2, 0))] == \
        [("trained", True), ("no PAR", True)]
    assert runs[1][2] == report.training_log(results[0][1])
