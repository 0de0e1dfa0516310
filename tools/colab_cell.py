"""The set-up cell every chapter starts with, from one template.

In Colab the cell installs ``panet_min`` (with the extras of ``colab_install_extras``) from the
repository named in ``_config.yml``; elsewhere it does nothing. The chapter's data cell then
prepares the pinned data and weights (:func:`panet_min.pinned.book_inputs`).

    python tools/colab_cell.py --write    # rewrite the first code cell of every chapter
    python tools/colab_cell.py --check    # exit 1 and list the chapters that differ
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
TAGS = ["remove-cell"]  # the reader of the page needs no install cell


def cell_source(config_path: Path = ROOT / "_config.yml") -> str:
    config = yaml.safe_load(config_path.read_text())
    url = config["repository"]["url"].rstrip("/")
    branch = config["repository"].get("branch", "main")
    extras = config.get("colab_install_extras", "")
    spec = f"panet_min[{extras}]" if extras else "panet_min"
    return ("import sys\n"
            "if \"google.colab\" in sys.modules:  # in Colab: install panet_min (the data cell prepares the data)\n"
            f"    !pip install -q \"{spec} @ git+{url}@{branch}\"")


def chapters() -> list[Path]:
    return sorted((ROOT / "book").glob("[0-9A][0-9]*_*.ipynb"))  # 01_..., 10b_..., A1_...


def first_code_cell(nb):
    return next(c for c in nb.cells if c.cell_type == "code")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    want, wrong = cell_source(), []
    for path in chapters():
        nb = nbformat.read(path, as_version=4)
        cell = first_code_cell(nb)
        if cell.source != want or cell.metadata.get("tags") != TAGS:
            wrong.append(path.name)
            if args.write:
                cell.source, cell.metadata["tags"], cell.outputs = want, list(TAGS), []
                nbformat.write(nb, path)
    if args.check and wrong:
        print("set-up cell differs from the template in: " + ", ".join(wrong), file=sys.stderr)
        return 1
    print(f"{len(chapters())} chapters; " + (f"rewrote {len(wrong)}" if args.write else f"{len(wrong)} differ"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
