"""One look for every figure of the book: sizes chosen for the page, one colour per meaning.

The book's content column is about 700 CSS pixels wide at a 1280 px window. A figure drawn
``WIDTH`` inches wide at ``DPI`` dots per inch is ``WIDTH * DPI`` pixels, so it is shown at its
own size (not shrunk) and ``FONT_SIZE``-point text stays at least 9 pt as rendered. Use
:func:`figure` (or pass ``figsize=(WIDTH, h), dpi=DPI``) rather than choosing sizes per chart.

``COLOURS`` gives each *meaning* one colour across all chapters: a bar or line of "trained
with PAR" is the same blue in chapter 7, 10 and 11. A series that has none of these meanings (a
run named by its backbone, say) takes the next colour of ``OTHER``, which no meaning uses:
:func:`colours_for` does both. Diagrams draw their steps in ``BOX`` with ``INK`` lines and text.
"""
from __future__ import annotations

import functools
import itertools

import matplotlib

WIDTH = 7.0        # inches: the content column
DPI = 100          # WIDTH * DPI = 700 px, the column's width
FONT_SIZE = 10     # points; the smallest text (ticks, legends) is FONT_SIZE - 1
MIN_HEIGHT = 1.6

COLOURS = {
    "paper": "#7f7f7f",            # numbers quoted from the paper
    "no training": "#e69f00",      # ImageNet features, no meta-training
    "trained": "#0072b2",          # meta-trained with PAR (the method)
    "no PAR": "#56b4e9",           # meta-trained without PAR
    "stuff as training": "#d55e00",  # the leak ablation: stuff classes trained on
    "strict": "#009e73",           # the strict protocol: no training image holds a test class
    "all background": "#bbbbbb",   # trivial baselines
    "all foreground": "#444444",
    "1-shot": "#0072b2",
    "5-shot": "#cc79a7",
}

# Series without a book-wide meaning, in order; none of them is a colour of COLOURS.
OTHER = ("#8c6d31", "#7b4173", "#637939", "#393b79", "#843c39", "#5f5f5f")

BOX = "#f2f2f2"   # diagrams: a step of the pipeline
INK = "#333333"   # diagrams: edges, arrows and their labels

RC = {
    "figure.dpi": DPI, "savefig.dpi": DPI, "font.size": FONT_SIZE,
    "axes.titlesize": FONT_SIZE, "axes.labelsize": FONT_SIZE,
    "xtick.labelsize": FONT_SIZE - 1, "ytick.labelsize": FONT_SIZE - 1,
    "legend.fontsize": FONT_SIZE - 1, "figure.titlesize": FONT_SIZE + 1,
    "figure.constrained_layout.use": True,
}


def use() -> None:
    """Apply the book's sizes to matplotlib (every viz function calls it before drawing)."""
    matplotlib.rcParams.update(RC)


def drawn(func):
    """Decorator for a function that draws a whole figure: it draws under the book's sizes
    (``RC``) without changing matplotlib's global settings, so that a chapter's other figures
    keep theirs (a figure function that calls ``tight_layout`` would otherwise meet the
    constrained layout that ``RC`` turns on)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(RC):
            return func(*args, **kwargs)
    return wrapper


def colour(meaning: str) -> str:
    """The colour of ``meaning`` (a key of :data:`COLOURS`); unknown -> ValueError listing them."""
    if meaning not in COLOURS:
        raise ValueError(f"no colour for {meaning!r}: the book's meanings are {', '.join(COLOURS)}")
    return COLOURS[meaning]


def colours_for(names, colours=None) -> dict:
    """``{name: colour}`` for the series ``names``, in order.

    ``colours`` (optional) maps a name to a meaning of :data:`COLOURS` or to a colour. Otherwise a
    name that is a meaning gets its colour, and every other name the next colour of
    :data:`OTHER` (so a figure never falls back on matplotlib's cycle, whose blue and orange
    would read as "trained" and "no training").
    """
    colours = dict(colours or {})
    others = itertools.cycle(OTHER)
    out = {}
    for name in names:
        if name in colours:
            out[name] = COLOURS.get(colours[name], colours[name])
        elif name in COLOURS:
            out[name] = COLOURS[name]
        else:
            out[name] = next(others)
    return out


def subplots(n_rows: int = 1, n_cols: int = 1, figsize=None, **kwargs):
    """``plt.subplots`` at the book's sizes for a figure of any ``figsize`` (scaled to the column
    by :func:`fit`), laid out by constrained layout (never ``tight_layout`` on top of it).
    Returns ``(fig, axes)`` with ``axes`` a 2-D array ([n_rows, n_cols]). For the book's fonts
    call it inside a function decorated with :func:`drawn` (or after :func:`use`)."""
    import matplotlib.pyplot as plt

    size = fit(figsize) if figsize is not None else (WIDTH, max(MIN_HEIGHT, WIDTH / n_cols * n_rows))
    kwargs.setdefault("layout", "constrained")
    return plt.subplots(n_rows, n_cols, figsize=size, dpi=DPI, squeeze=False, **kwargs)


def figure(n_rows: int = 1, n_cols: int = 1, panel_aspect: float = 1.0, width: float = WIDTH,
           extra_height: float = 0.0, **kwargs):
    """``plt.subplots`` at the column's width: panels of height/width ``panel_aspect`` each.

    ``panel_aspect``: e.g. 213 / 320 for an MSRC landscape photo, so images keep their shape.
    Returns ``(fig, axes)`` with ``axes`` a 2-D array ([n_rows, n_cols]).
    """
    import matplotlib.pyplot as plt

    use()
    height = max(MIN_HEIGHT, n_rows * width / n_cols * panel_aspect + extra_height)
    return plt.subplots(n_rows, n_cols, figsize=(width, height), dpi=DPI, squeeze=False, **kwargs)


def fit(figsize) -> tuple[float, float]:
    """``figsize`` scaled to the column's width, aspect kept: a figure is never drawn wider than
    the page shows it (which would shrink its text below ``FONT_SIZE``)."""
    w, h = figsize
    return (WIDTH, h * WIDTH / w)
