"""The README's MSRC results table, written from the shipped grid results (never typed).

    python tools/readme_results.py --write    # rewrite the block between the markers in README.md
    python tools/readme_results.py --check    # exit 1 when README.md differs from the results
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- msrc-results:start -->", "<!-- msrc-results:end -->"
ROWS = [("1-shot, dense masks", "mask-1shot"), ("1-shot, scribbles", "scribble-1shot"),
        ("1-shot, boxes", "bbox-1shot"), ("5 supports, dense masks", "mask-5shot")]
SETTINGS = [("no training", "no training"), ("trained, PAR", "trained"), ("trained, no PAR", "no PAR")]


def block() -> str:
    from panet_min import evidence
    from panet_min.viz.curves import markdown_table

    table = evidence.grid_results()
    rows = []
    for label, test in ROWS:
        folds = table.get(test, {})
        if folds:
            rows.append([label, *(evidence.format_seeds(evidence.over_folds(folds, s)) for _, s in SETTINGS)])
    five = table.get("mask-5shot", {})
    five_shot = evidence.over_folds(five, "trained, trained 5-shot") if five else None
    if five_shot:
        rows.append(["5-shot, trained 5-shot (PAR)", "", evidence.format_seeds(five_shot),
                     evidence.format_seeds(evidence.over_folds(five, "no PAR, trained 5-shot"))])
    text = markdown_table(["MSRC-5i, mean over its 3 folds (mean-IoU %)", *(s for s, _ in SETTINGS)], rows)
    _, tested = evidence.claims_table(table)
    lines = [f"- {c.name}: " + ("not run" if ci is None else
                                f"{evidence.format_effect(ci)} points, {c.say(ci['verdict'])} "
                                f"(PASCAL-5i in the paper: {c.paper})") for c, ci in tested]
    text += ("\n\nThe paper's claims, b − a over the folds with its 95 % CI (bootstrap over training seeds "
             "and test episodes):\n\n" + "\n".join(lines))
    return f"{START}\n{text}\n{END}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    readme = ROOT / "README.md"
    text = readme.read_text()
    if START not in text or END not in text:
        print(f"README.md has no {START} ... {END} block", file=sys.stderr)
        return 1
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    new = before + block() + after
    if args.write:
        readme.write_text(new)
    if args.check and new != text:
        print("README.md's MSRC table differs from the shipped results: run python tools/readme_results.py "
              "--write", file=sys.stderr)
        return 1
    print("README.md's MSRC table " + ("written" if args.write else "checked"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
