"""Execute every chapter of the book in place with papermill, in table-of-contents order.

Used by `make book`. Each notebook runs with its default parameters, from
the book/ folder, and is saved with its outputs: those are the outputs the
rendered book shows and nbval checks. Prints the time each chapter took.

    python tools/execute_book.py                  # all chapters
    python tools/execute_book.py book/03_*.ipynb  # some
    python tools/execute_book.py -p device cuda   # papermill parameters for every chapter
    python tools/execute_book.py book/07_training.ipynb -p profile full   # train the real model
        (VGG-16 PANet on MSRC, the book's schedule; saves runs/book/checkpoint.pt, which chapters 5,
        8, 9 and 11 take with -p checkpoint ../runs/book/checkpoint.pt)
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
import papermill as pm
import yaml

ROOT = Path(__file__).resolve().parents[1]


def toc_notebooks() -> list[Path]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc.get("parts", []) for c in part.get("chapters", [])]
    return [ROOT / f"{f}.ipynb" for f in files if (ROOT / f"{f}.ipynb").exists()]


def strip_machine_paths(path: Path) -> None:
    """Drop papermill's record of where the notebook was run (an absolute path of this machine)."""
    nb = nbformat.read(path, as_version=4)
    meta = nb.metadata.get("papermill", {})
    for key in ("input_path", "output_path"):
        meta.pop(key, None)
    nbformat.write(nb, path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="*", type=Path)
    ap.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                    help="a papermill parameter for every chapter (value parsed as YAML)")
    args = ap.parse_args(argv)
    params = {k: yaml.safe_load(v) for k, v in args.p}
    # Figures must reach the notebook: an inherited MPLBACKEND=Agg would swallow them.
    os.environ.pop("MPLBACKEND", None)
    notebooks = [p.resolve() for p in args.notebooks] or toc_notebooks()
    total = time.time()
    for nb in notebooks:
        start = time.time()
        print(f"executing {nb.relative_to(ROOT)} ...", flush=True)
        pm.execute_notebook(str(nb), str(nb), parameters=params, cwd=str(nb.parent), kernel_name="python3",
                            progress_bar=False, request_save_on_cell_execute=False)
        strip_machine_paths(nb)
        print(f"  done in {time.time() - start:.0f} s", flush=True)
    print(f"{len(notebooks)} chapters executed in {time.time() - total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
