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
    """Path of the real data folder (camvid/, voc2012-masks/). Missing -> the test fails (never skips):
    in CI the folder must be there."""
    found = find_shared_data()
    if found is None:
        where = os.environ.get("PANET_MIN_SHARED_DATA") or str(REPO.parent / "shared" / "data")
        ci = " (CI=true: the real data must be present)" if os.environ.get("CI") == "true" else ""
        pytest.fail(f"real shared data not found at {where}{ci}; set PANET_MIN_SHARED_DATA to the folder "
                    f"holding camvid/ and voc2012-masks/ (see the shared data README)")
    return found


@pytest.fixture(scope="session")
def data_script():
    """Import a script of data_scripts/ as a module: ``data_script("prepare_pascal").prepare_pascal(...)``."""
    import importlib
    import sys

    folder = str(REPO / "data_scripts")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module
