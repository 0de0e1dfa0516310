"""The README's MSRC results table is the shipped results' (tools/readme_results.py), not typed."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_table_is_written_from_the_results():
    spec = importlib.util.spec_from_file_location("readme_results", ROOT / "tools" / "readme_results.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = (ROOT / "README.md").read_text()
    assert module.block() in text, "run `python tools/readme_results.py --write`"
    assert "mean-IoU" in module.block() and "(n=" in module.block()
