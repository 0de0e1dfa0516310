"""Command lines under bad input: exit status 2 and ONE line on stderr that names the file and the fix,
never a traceback. One test per failure: a download cut short, a disk that cannot be written, and
checkpoints and run folders that are damaged or belong to another experiment."""
import errno
import http.server
import os
import threading
from pathlib import Path

import pytest
import torch

from panet_min import evaluate as evaluate_cli
from panet_min import train as train_cli
from panet_min.checkpoint import WriteError, atomic_write_bytes, atomic_write_json
from panet_min.config import TrainConfig
from panet_min.prepare.__main__ import main as prepare_main
from panet_min.train import train


# one thread: fast and bit-reproducible on a shared 2-core machine (conftest.one_thread)
pytestmark = pytest.mark.usefixtures("one_thread")


def one_line(capsys, progress: str | None = None) -> str:
    """The single line the command wrote to stderr (fails on none, several, or a traceback);
    ``progress``: the name a download's progress bar shows, whose redraws are left out."""
    err = capsys.readouterr().err
    lines = [x for x in err.replace("\r", "\n").splitlines()
             if x.strip() and not (progress and x.startswith(f"{progress}:"))]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# ---- downloads ----

class CutShort(http.server.BaseHTTPRequestHandler):
    """Announces 4000 bytes, sends 1000, closes the connection: a dropped download."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "4000")
        self.end_headers()
        self.wfile.write(b"x" * 1000)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def cut_short_server():
    server = http.server.HTTPServer(("127.0.0.1", 0), CutShort)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_download_without_checksum_that_stops_early_is_refused(cut_short_server, tmp_path, capsys, monkeypatch):
    # MSRC's zip is downloaded without a checksum (its 1,182 files are checked after): only the
    # length can tell a cut transfer from a whole one.
    monkeypatch.delenv("PANET_MIN_MIRROR", raising=False)
    root = tmp_path / "data"
    code = prepare_main(["msrc", "--root", str(root), "--source", f"{cut_short_server}/msrc.zip"])
    line = one_line(capsys, progress="msrc_objcategimagedatabase_v2.zip")
    assert code == 2
    assert "msrc_objcategimagedatabase_v2.zip" in line and "stopped after 1,000 of 4,000 bytes" in line
    assert "run the same command again to resume it" in line
    downloads = [p.name for p in root.rglob("*") if p.is_file()]
    assert not [n for n in downloads if n.endswith(".zip")]  # never renamed to its final name
    assert [n for n in downloads if n.endswith(".zip.part")]  # kept, to resume


# ---- writing ----

def test_a_full_disk_while_writing_results_is_one_line(synthetic_voc_root, tmp_path, capsys, monkeypatch):
    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    out = tmp_path / "r.json"
    code = evaluate_cli.main(["--dataset", "pascal", "--data-root", str(synthetic_voc_root), "--no-train",
                              "--backbone", "small", "--image-size", "40", "--runs", "1", "--episodes", "2",
                              "--device", "cpu", "--precision", "fp32", "--out", str(out)])
    line = one_line(capsys)
    assert code == 2 and "No space left on device" in line and "free some space" in line
    assert str(tmp_path) in line  # the file it could not write
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temporary file left


def test_a_folder_in_the_way_is_a_clear_write_error(tmp_path):
    blocker = tmp_path / "runs"
    blocker.write_text("a file where a folder should be")
    target = blocker / "f0" / "config.json"
    with pytest.raises(WriteError) as err:
        atomic_write_json({"a": 1}, target)
    assert isinstance(err.value, ValueError) and str(target) in str(err.value)
    assert "another --out" in str(err.value) and "\n" not in str(err.value)
    # an existing file is left as it was when its replacement cannot be written
    good = tmp_path / "good.json"
    atomic_write_json({"a": 1}, good)
    with pytest.raises(WriteError, match="Permission denied"):
        atomic_write_bytes(good, lambda f: (_ for _ in ()).throw(PermissionError(errno.EACCES, "Permission denied")))
    assert good.read_text().strip() == '{\n "a": 1\n}' and sorted(p.name for p in tmp_path.iterdir()) == \
        ["good.json", "runs"]


# ---- checkpoints and run folders ----

def tiny_run(root, out, **kw) -> Path:
    config = dict(dataset="pascal", data_root=str(root), backbone="small", image_size=40, iters=2,
                  device="cpu", out=str(out), log_every=1, checkpoint_every=2, milestones=[1], precision="fp32")
    return train(TrainConfig(**{**config, **kw}))


@pytest.fixture(scope="module")
def run_fold1(synthetic_voc_root, tmp_path_factory):
    return tiny_run(synthetic_voc_root, tmp_path_factory.mktemp("runs") / "fold1", fold=1)


def evaluate_args(root, checkpoint, tmp_path, *extra):
    return ["--dataset", "pascal", "--data-root", str(root), "--checkpoint", str(checkpoint), "--runs", "1",
            "--episodes", "2", "--image-size", "40", "--device", "cpu", "--out", str(tmp_path / "r.json"),
            *extra]


def test_a_checkpoint_of_another_fold_or_dataset_is_refused(synthetic_voc_root, run_fold1, tmp_path, capsys):
    # (tests/test_engine.py checks the overlap rule itself; here: one line that names the file)
    ckpt = run_fold1 / "checkpoint.pt"
    assert evaluate_cli.main(evaluate_args(synthetic_voc_root, ckpt, tmp_path, "--fold", "0")) == 2
    line = one_line(capsys)
    assert str(ckpt) in line and "trained on fold 1" in line and "--fold 1" in line
    args = evaluate_args(synthetic_voc_root, ckpt, tmp_path, "--fold", "1")
    args[1] = "msrc"
    assert evaluate_cli.main(args) == 2
    line = one_line(capsys)
    assert str(ckpt) in line and "trained on pascal, not msrc" in line and "--dataset pascal" in line


def test_a_truncated_checkpoint_is_refused(synthetic_voc_root, run_fold1, tmp_path, capsys):
    cut = tmp_path / "cut.pt"
    data = (run_fold1 / "checkpoint.pt").read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    assert evaluate_cli.main(evaluate_args(synthetic_voc_root, cut, tmp_path, "--fold", "1")) == 2
    line = one_line(capsys)
    assert f"cannot read checkpoint {cut}" in line and "damaged, cut short" in line
    assert "weights_only=False" not in line  # torch's advice would run the file's code


def test_a_file_holding_a_bare_tensor_is_refused(synthetic_voc_root, tmp_path, capsys):
    bare = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), bare)
    assert evaluate_cli.main(evaluate_args(synthetic_voc_root, bare, tmp_path)) == 2
    line = one_line(capsys)
    assert f"{bare} holds a Tensor, not a checkpoint" in line and "checkpoint.pt that panet_min.train writes" in line


def test_resume_from_a_checkpoint_without_its_config_is_refused(synthetic_voc_root, tmp_path, capsys):
    run = tiny_run(synthetic_voc_root, tmp_path / "run")
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    del ckpt["config"]
    torch.save(ckpt, run / "checkpoint.pt")
    assert train_cli.main(["--resume", "--out", str(run), "--iters", "4"]) == 2
    line = one_line(capsys)
    assert f"cannot resume from {run / 'checkpoint.pt'}: it lacks config" in line
    assert "start a new run with another --out" in line


def test_resume_with_a_truncated_config_json_is_refused(synthetic_voc_root, tmp_path, capsys):
    run = tiny_run(synthetic_voc_root, tmp_path / "run")
    text = (run / "config.json").read_text()
    (run / "config.json").write_text(text[: len(text) // 2])
    assert train_cli.main(["--resume", "--out", str(run), "--iters", "4"]) == 2
    line = one_line(capsys)
    assert f"cannot read the run's config {run / 'config.json'}" in line and "cut short" in line


def test_train_out_under_a_file_is_one_line(synthetic_voc_root, tmp_path, capsys):
    from panet_min.train import main

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    status = main(["--dataset", "pascal", "--data-root", str(synthetic_voc_root), "--backbone", "small",
                   "--image-size", "40", "--iters", "1", "--device", "cpu", "--precision", "fp32",
                   "--out", str(blocker / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and str(blocker / "run") in err[0] and "choose another --out" in err[0]
