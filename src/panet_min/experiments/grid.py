"""A grid of experiments, declared in a TOML file: which models to train and how to test each.

A grid file (``grids/msrc-241.toml`` is the book's) holds::

    name = "msrc-241"
    runs_dir = "runs/msrc-241"                    # checkpoints (large; not committed)
    results_dir = "src/panet_min/results/msrc-241"  # results, per-episode counts, training logs

    [train]          # TrainConfig fields every trained cell shares
    [evaluate]       # EvalConfig fields every test shares
    [test_sets]      # named lists of tests: {annotation, shots, and any EvalConfig field}

    [[group]]        # one group of cells: the product of its list-valued fields
    name = "1-shot"
    seed = [1234, 1235, 1236]                     # the first listed field varies slowest
    fold = [0, 1, 2]
    par_weight = [1.0, 0.0]
    shots = 1
    tests = "standard"                             # a test set's name, or a list of tests
    curve = {runs = 1, episodes = 300}             # also test every kept checkpoint (dense, train shots)

A group with ``train = false`` holds untrained (ImageNet) cells, one per fold. Every other field of a
group is a :class:`~panet_min.config.TrainConfig` field (``strict``, ``stuff_as_training``, ``lr``, ...);
``tag`` adds a word to the cells' names. A cell is named after what distinguishes it, e.g.
``f0-1shot-par-s1234``, ``f2-5shot-nopar-s1236``, ``f0-1shot-par-s1234-strict``, ``f1-notrain``.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

from ..config import EvalConfig, TrainConfig

GROUP_KEYS = ("name", "train", "tests", "curve", "tag")
DATA_KEYS = ("dataset", "data_root", "image_size", "ways")  # what a test takes from the training settings


@dataclass
class Cell:
    """One model and its tests. ``train``: TrainConfig fields (None: untrained); ``tests``: EvalConfig
    overrides, one per evaluation; ``curve``: EvalConfig overrides for the kept checkpoints (None: none)."""
    name: str
    group: str
    fold: int
    train: dict | None
    tests: list[dict]
    curve: dict | None = None
    evaluate: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)  # dataset, data_root, image_size, ways (from [train])

    def run_dir(self, grid: "Grid") -> Path:
        return grid.runs_dir / self.name

    def results_dir(self, grid: "Grid") -> Path:
        return grid.results_dir / self.name


@dataclass
class Grid:
    name: str
    path: Path
    runs_dir: Path
    results_dir: Path
    cells: list[Cell]


def test_name(test: dict) -> str:
    """``mask-1shot``, ``scribble-5shot``, ...: a test's file name (without ``.json``)."""
    return f"{test.get('annotation', 'mask')}-{test['shots']}shot"


def _read_toml(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"grid file not found: {path}") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path} is not valid TOML: {e}") from None


def _cell_name(fold: int, train: dict | None, tag: str | None) -> str:
    if train is None:
        name = f"f{fold}-notrain"
    else:
        par = "par" if float(train.get("par_weight", 1.0)) > 0 else "nopar"
        name = f"f{fold}-{train.get('shots', 1)}shot-{par}-s{train.get('seed', 1234)}"
        name += "".join(f"-{word}" for key, word in (("strict", "strict"), ("stuff_as_training", "stuff"))
                        if train.get(key))
    return name + (f"-{tag}" if tag else "")


def _tests(value, test_sets: dict, where: str) -> list[dict]:
    tests = test_sets.get(value) if isinstance(value, str) else value
    if not isinstance(tests, list) or not all(isinstance(t, dict) and "shots" in t for t in tests):
        raise ValueError(f"{where}: tests must be a list of tables with 'shots' (or a name from [test_sets]: "
                         f"{', '.join(test_sets) or 'none'})")
    names = [test_name(t) for t in tests]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:  # one results file per name: the second test would be skipped as done
        raise ValueError(f"{where}: two tests write {', '.join(f'{n}.json' for n in twice)} (same annotation and "
                         "shots): keep one")
    return tests


def load_grid(path) -> Grid:
    """Read and check a grid file: every cell's configs are built once here, so a typo fails at
    once, not hours into the grid."""
    path = Path(path)
    spec = _read_toml(path)
    for key in ("name", "runs_dir", "results_dir"):
        if not isinstance(spec.get(key), str):
            raise ValueError(f"{path}: needs a string '{key}'")
    train_base, eval_base = dict(spec.get("train", {})), dict(spec.get("evaluate", {}))
    test_sets = spec.get("test_sets", {})
    cells, names = [], set()
    for g, group in enumerate(spec.get("group", [])):
        where = f"{path} group {group.get('name', g)}"
        trained = group.get("train", True)
        fields = {k: v for k, v in group.items() if k not in GROUP_KEYS}
        keys = list(fields)
        values = [v if isinstance(v, list) and k != "milestones" else [v] for k, v in fields.items()]
        for combo in itertools.product(*values):
            setting = dict(zip(keys, combo))
            fold = int(setting.get("fold", train_base.get("fold", 0)))
            train = {**train_base, **setting} if trained else None
            if not trained and set(setting) - {"fold"}:
                raise ValueError(f"{where}: an untrained group takes only 'fold', got {sorted(setting)}")
            data = {k: v for k, v in {**train_base, **setting}.items() if k in DATA_KEYS}
            cell = Cell(_cell_name(fold, train, group.get("tag")), str(group.get("name", g)), fold, train,
                        _tests(group.get("tests", []), test_sets, where), group.get("curve"), eval_base, data)
            if cell.name in names:
                raise ValueError(f"{where}: two cells are both named {cell.name} (add a 'tag')")
            names.add(cell.name)
            _check(cell, where)
            cells.append(cell)
    if not cells:
        raise ValueError(f"{path}: no [[group]] with cells")
    return Grid(spec["name"], path, Path(spec["runs_dir"]), Path(spec["results_dir"]), cells)


def train_config(cell: Cell, grid: Grid) -> TrainConfig | None:
    if cell.train is None:
        return None
    return TrainConfig(**{**cell.train, "out": str(cell.run_dir(grid))})


def eval_config(cell: Cell, grid: Grid, test: dict, checkpoint: Path | None, out: Path) -> EvalConfig:
    """The EvalConfig of one test of ``cell``: the grid's [evaluate], the cell's data and fold, the
    training's image size (unless the test says otherwise), then the test's own fields."""
    fields = {**cell.evaluate, **cell.data, "fold": cell.fold, **test}
    fields.update(checkpoint=None if checkpoint is None else str(checkpoint), no_train=checkpoint is None,
                  out=str(out))
    return EvalConfig(**fields)


def _check(cell: Cell, where: str) -> None:
    try:
        train_config(cell, Grid("", Path(), Path("runs"), Path("results"), []))
        for test in cell.tests + ([{"shots": (cell.train or {}).get("shots", 1), **cell.curve}] if cell.curve else []):
            eval_config(cell, Grid("", Path(), Path("runs"), Path("results"), []), test,
                        None if cell.train is None else Path("checkpoint.pt"), Path("x.json"))
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}, cell {cell.name}: {e}") from None


def shard(cells: list[Cell], spec: str | None) -> list[Cell]:
    """The cells of shard ``i/n`` (cell k goes to shard k mod n); None: all of them."""
    if spec is None:
        return cells
    try:
        i, n = (int(x) for x in spec.split("/"))
    except ValueError:
        raise ValueError(f"--shard must be I/N with 0 <= I < N, e.g. 0/4; got {spec!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise ValueError(f"--shard must be I/N with 0 <= I < N, e.g. 0/4; got {spec!r}")
    return [c for k, c in enumerate(cells) if k % n == i]


__all__ = ["Cell", "Grid", "load_grid", "train_config", "eval_config", "test_name", "shard"]
