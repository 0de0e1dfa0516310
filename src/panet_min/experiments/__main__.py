"""``python -m panet_min.experiments run|status GRID [--shard I/N] [--only NAME ...]``

``run`` trains and tests every cell of the grid file that is not done yet, in the file's order
(resumable: kill it and run it again). ``--shard I/N`` takes cell k when k mod N = I, so N machines
(or N processes of one thread each on one machine) split a grid: e.g. a Slurm job array of N tasks
each runs ``--shard $SLURM_ARRAY_TASK_ID/N``. ``status`` lists the cells and what is done.
"""
from __future__ import annotations

import argparse
import sys

from ..runsetup import progress_bar, run_command
from .grid import load_grid, shard
from .run import planned, run_cell, status


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m panet_min.experiments", description=__doc__.split("\n\n")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("run", "status"))
    parser.add_argument("grid", help="the grid file (TOML), e.g. grids/msrc-241.toml")
    parser.add_argument("--shard", help="I/N: this process runs cell k when k mod N = I")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="only these cells (names, or group names)")
    args = parser.parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):  # a log file (nohup ... > log) shows each step line as it comes
        sys.stdout.reconfigure(line_buffering=True)

    def body():
        grid = load_grid(args.grid)
        cells = shard(grid.cells, args.shard)
        if args.only:
            unknown = set(args.only) - {c.name for c in grid.cells} - {c.group for c in grid.cells}
            if unknown:
                raise ValueError(f"no cell or group named {', '.join(sorted(unknown))} in {args.grid}")
            cells = [c for c in cells if c.name in args.only or c.group in args.only]
        if args.command == "status":
            for c in cells:
                files = planned(c, grid)
                print(f"{status(c, grid):8s} {c.name:32s} {sum(f.is_file() for f in files)}/{len(files)} files  "
                      f"[{c.group}]")
            return
        todo = [c for c in cells if status(c, grid) != "done"]
        print(f"{grid.name}: {len(cells) - len(todo)} of {len(cells)} cells done; running {len(todo)}", flush=True)
        bar = progress_bar(total=len(cells), initial=len(cells) - len(todo), desc=grid.name, unit="cell")
        for c in todo:
            bar.set_postfix_str(c.name)
            print(f"cell {c.name}", flush=True)
            run_cell(c, grid)
            bar.update(1)
        bar.close()

    return run_command(parser.prog, body)


if __name__ == "__main__":
    sys.exit(main())
