"""Shared fixtures: a small generated VOC-format set, and the real shared data folder."""
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def synthetic_voc_root(tmp_path_factory) -> Path:
    """DIR of a small generated set (DIR/VOCdevkit/VOC2012): 120 train + 60 val images of
    128x128, seed 0, every class the primary class of >= 6 train and >= 3 val images.
    Generated once per session (a few seconds)."""
    from panet_min.data.synthetic import make_synthetic_voc

    root = tmp_path_factory.mktemp("synthetic")
    make_synthetic_voc(root, seed=0, n_train=120, n_val=60, size=128, workers=1)
    return root


def find_shared_data() -> Path | None:
    """$PANET_MIN_SHARED_DATA, else <repo>/../shared/data; None when neither exists."""
    env = os.environ.get("PANET_MIN_SHARED_DATA")
    for cand in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if cand.is_dir():
            return cand
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The project's folder of real data no user can download as it is here (the VOC label maps
    without images, a re-encoded CamVid). Outside CI a machine without it skips these tests with a
    one-line reason; under CI=true its absence fails them."""
    found = find_shared_data()
    if found is None:
        where = os.environ.get("PANET_MIN_SHARED_DATA") or str(REPO.parent / "shared" / "data")
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the real shared data folder is not at {where}; set PANET_MIN_SHARED_DATA")
        pytest.skip(f"project-only real data (VOC label maps, CamVid copy) not at {where}")
    return found


@pytest.fixture(scope="session")
def msrc_root() -> Path:
    """DIR holding msrc/ as prepared by `make data` (python -m panet_min.prepare msrc --root data):
    the book's pinned data, which every machine can download. Not prepared -> the test fails."""
    from panet_min.prepare.msrc import is_prepared

    root = REPO / "data"
    if not is_prepared(root):
        pytest.fail(f"MSRC-v2 is not prepared in {root}; run `make data` "
                    "(python -m panet_min.prepare msrc --root data)")
    return root


def msrc_original_zip() -> Path | None:
    """A copy of the MSRC-v2 zip on this machine: the one `make data` downloaded, or the shared one."""
    shared = find_shared_data()
    for cand in [REPO / "data" / "downloads" / "msrc_objcategimagedatabase_v2.zip"] + (
            [shared / "msrc" / "msrc_objcategimagedatabase_v2.zip"] if shared else []):
        if cand.is_file():
            return cand
    return None




@pytest.fixture
def one_thread():
    """torch on one CPU thread for the test (MKL/oneDNN split their sums by thread: one thread gives
    bit-identical numbers run to run, and is the fastest on a shared 2-core machine)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
