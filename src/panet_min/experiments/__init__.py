"""A declared grid of train + test cells, run by one resumable command (``python -m panet_min.experiments``).

- :mod:`.grid`: the grid file (TOML) and the cells it declares;
- :mod:`.run`: training, testing and the training curve of one cell, skipping what is done.
"""
from .grid import Cell, Grid, eval_config, load_grid, shard, test_name, train_config
from .run import curve_steps, planned, run_cell, status

__all__ = ["Cell", "Grid", "load_grid", "shard", "train_config", "eval_config", "test_name", "run_cell", "status",
           "planned", "curve_steps"]
