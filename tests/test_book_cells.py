"""Every chapter's set-up cell is the template's, and the template follows _config.yml."""
import importlib.util
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("colab_cell", ROOT / "tools" / "colab_cell.py")
colab_cell = importlib.util.module_from_spec(spec)
spec.loader.exec_module(colab_cell)


def test_every_chapter_starts_with_the_template_cell():
    want = colab_cell.cell_source()
    for path in colab_cell.chapters():
        cell = colab_cell.first_code_cell(nbformat.read(path, as_version=4))
        assert cell.source == want, f"{path.name}: run `python tools/colab_cell.py --write`"


def test_the_template_takes_url_branch_and_extras_from_the_config(tmp_path):
    cfg = tmp_path / "_config.yml"
    cfg.write_text("repository:\n  url: https://example.org/me/fork/\n  branch: dev\n"
                   "colab_install_extras: weights,data\n")
    src = colab_cell.cell_source(cfg)
    assert '!pip install -q "panet_min[weights,data] @ git+https://example.org/me/fork@dev"' in src
    assert src.startswith("import sys\nif \"google.colab\" in sys.modules:")
