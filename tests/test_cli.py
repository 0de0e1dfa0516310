"""Command lines: clear errors for missing data and bad flags; a small evaluation end to end."""
import json

import pytest

from panet_min import evaluate as evaluate_cli
from panet_min import train as train_cli


def run(main, argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_missing_dataset_names_the_prepare_command(tmp_path, capsys, monkeypatch):
    missing = tmp_path / "no_such_voc"
    code, _, err = run(train_cli.main, ["--data-root", str(missing), "--dataset", "pascal", "--backbone", "small",
                                        "--device", "cpu", "--out", str(tmp_path / "r")], capsys)
    assert code == 2
    assert str(missing) in err and "python -m panet_min.prepare pascal --root" in err
    # an existing but empty folder: the source names what is missing
    missing.mkdir()
    code, _, err = run(train_cli.main, ["--data-root", str(missing), "--dataset", "camvid", "--backbone", "small",
                                        "--device", "cpu", "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and "panet_min.prepare camvid" in err
    # no --data-root: looked up under ./data
    monkeypatch.chdir(tmp_path)
    code, _, err = run(evaluate_cli.main, ["--dataset", "pascal", "--no-train", "--backbone", "small",
                                           "--device", "cpu"], capsys)
    assert code == 2 and "panet_min.prepare pascal" in err and "data/pascal" in err


@pytest.mark.parametrize("argv, message", [
    (["--ways", "0"], "ways must be a positive integer"),
    (["--iters", "-3"], "iters must be a positive integer"),
    (["--lr", "0"], "lr must be positive"),
    (["--par-weight", "-1"], "par_weight must be a non-negative number"),
])
def test_bad_values_are_refused(argv, message, tmp_path, capsys):
    code, _, err = run(train_cli.main, argv + ["--out", str(tmp_path / "r")], capsys)
    assert code == 2 and message in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("argv", [["--dataset", "voc2007"], ["--ways", "two"], ["--backbone", "resnet"],
                                  ["--device", "tpu"], ["--no-such-flag"]])
def test_argparse_rejects(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        train_cli.main(argv)
    assert exit_.value.code == 2
    assert "error" in capsys.readouterr().err


def test_help_lists_the_flags(capsys):
    with pytest.raises(SystemExit):
        train_cli.main(["--help"])
    out = capsys.readouterr().out
    for flag in ("--data-root", "--dataset", "--fold", "--ways", "--shots", "--iters", "--image-size",
                 "--backbone", "--weights", "--device", "--seed", "--out", "--resume", "--par-weight",
                 "--episodes-per-step", "--amp", "--channels-last", "--compile", "--workers",
                 "--checkpoint-every", "--log-every", "--proto-dist-every"):
        assert flag in out, flag
    with pytest.raises(SystemExit):
        evaluate_cli.main(["--help"])
    out = capsys.readouterr().out
    for flag in ("--runs", "--episodes", "--split", "--annotation", "--checkpoint", "--no-train",
                 "--batch-size", "--amp"):
        assert flag in out, flag


def test_resume_and_checkpoint_errors(tmp_path, capsys):
    code, _, err = run(train_cli.main, ["--resume", "--out", str(tmp_path / "nothing")], capsys)
    assert code == 2 and "no run to resume" in err
    code, _, err = run(evaluate_cli.main, ["--checkpoint", str(tmp_path / "missing.pt"), "--device", "cpu",
                                           "--data-root", str(tmp_path)], capsys)
    assert code == 2 and "checkpoint not found" in err
    code, _, err = run(evaluate_cli.main, ["--device", "cpu", "--data-root", str(tmp_path)], capsys)
    assert code == 2 and "--no-train" in err
    code, _, err = run(evaluate_cli.main, ["--checkpoint", "a.pt", "--no-train"], capsys)
    assert code == 2 and "not both" in err


def test_evaluate_end_to_end(synthetic_voc_root, tmp_path, capsys):
    out = tmp_path / "res.json"
    code, stdout, err = run(evaluate_cli.main, [
        "--data-root", str(synthetic_voc_root), "--dataset", "pascal", "--no-train", "--backbone", "small",
        "--image-size", "40", "--runs", "1", "--episodes", "2", "--device", "cpu", "--split", "val",
        "--out", str(out)], capsys)
    assert code == 0, err
    res = json.loads(out.read_text())
    assert res["data"]["split"] == "val" and res["protocol"]["episodes"] == 2
    assert "mean-IoU" in stdout and str(out) in stdout
