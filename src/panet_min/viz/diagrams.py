"""Drawn diagrams of PANet: boxes and arrows, no data.

- ``plot_pipeline()``     the forward pass (chapter 5): support and query through one shared
  encoder, masked average pooling into prototypes, scaled cosine, softmax and argmax
- ``plot_par_diagram()``  prototype alignment (chapter 6): the query's prediction pools query
  prototypes that re-segment the support

Both return a Figure ``style.WIDTH`` inches wide at ``style.DPI`` with text of at least
``style.FONT_SIZE - 1`` points. The foreground and background prototypes are drawn in the
colours the overlays give way 1 and the support background, so the diagram matches the
figures of the chapters.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.colors import to_hex
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from . import style
from .overlays import BG_COLOR, label_color

BOX, INK = style.BOX, style.INK


def _canvas(height: float, xlim: float, ylim: float):
    fig = plt.figure(figsize=(style.WIDTH, height), dpi=style.DPI, layout="none")
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, xlim)
    ax.set_ylim(0, ylim)
    ax.axis("off")
    return fig, ax


def _box(ax, x, y, w, h, text, fc=BOX, color="black", size=style.FONT_SIZE, ec=INK, **kw):
    """A rounded box centred on (x, y), ``w`` x ``h`` in data units, with centred text."""
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02",
                                fc=fc, ec=ec, linewidth=1.0, **kw))
    ax.text(x, y, text, ha="center", va="center", color=color, fontsize=size,
            linespacing=1.25)


def _arrow(ax, a, b, label=None, offset=(0.0, 0.0), ha="center", va="center", rad=0.0, **kw):
    """An arrow from ``a`` to ``b``; ``label`` at the middle, shifted by ``offset``."""
    style_ = kw.pop("arrowstyle", "-|>")
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle=style_, mutation_scale=12, color=INK,
                                 linewidth=1.0, shrinkA=0, shrinkB=0,
                                 connectionstyle=f"arc3,rad={rad}", **kw))
    if label:
        ax.text((a[0] + b[0]) / 2 + offset[0], (a[1] + b[1]) / 2 + offset[1], label, ha=ha,
                va=va, fontsize=style.FONT_SIZE - 1, color=INK, linespacing=1.2)


@style.drawn
def plot_pipeline():
    """The PANet forward pass as a diagram -> Figure (one axis, no ticks).

    Top row, the support branch: support image and mask -> VGG-16 encoder -> masked average
    pooling into the foreground and background prototypes. Bottom row, the query branch: query
    image -> the *same* encoder -> cosine similarity with every prototype, times alpha -> softmax
    (the probability map) and argmax (the prediction) -> the query prediction.
    """
    fig, ax = _canvas(3.4, 7.0, 3.4)
    h, top, bottom = 0.8, 2.45, 0.6
    ws = [1.18, 0.95, 1.34, 1.18, 1.18]  # box widths, one per column
    margin = 0.06
    gap_x = (7.0 - 2 * margin - sum(ws)) / (len(ws) - 1)
    xs = [margin + sum(ws[:i]) + i * gap_x + ws[i] / 2 for i in range(len(ws))]
    fg, bg = to_hex(label_color(1)), to_hex(BG_COLOR)

    _box(ax, xs[0], top, ws[0], h, "support image\n+ its mask $M$")
    _box(ax, xs[0], bottom, ws[0], h, "query image")
    for y in (top, bottom):
        _box(ax, xs[1], y, ws[1], h, "VGG-16\nencoder", fc=style.colour("trained"), color="white")
    _box(ax, xs[2], top, ws[2], h, "masked average\npooling")
    _box(ax, xs[3], top, ws[3], h, "")
    ax.text(xs[3], top + 0.17, "prototypes", ha="center", va="center")
    ax.text(xs[3] - 0.27, top - 0.17, "fg $p_n$", ha="center", va="center", color=fg,
            fontweight="bold")
    ax.text(xs[3] + 0.27, top - 0.17, "bg $p_{bg}$", ha="center", va="center", color=bg,
            fontweight="bold")
    _box(ax, xs[3], bottom, ws[3], h, "cosine\nsimilarity\n$\\times\\ \\alpha = 20$")
    _box(ax, xs[4], bottom, ws[4], h, "softmax\nargmax")
    _box(ax, xs[4], top, ws[4], h, "query\nprediction $\\hat M_q$", fc="white")

    gap = 0.05

    def right(i):
        return xs[i] + ws[i] / 2 + gap

    def left(i):
        return xs[i] - ws[i] / 2 - gap

    _arrow(ax, (right(0), top), (left(1), top))
    _arrow(ax, (right(0), bottom), (left(1), bottom))
    _arrow(ax, (right(1), top), (left(2), top), "$F_s$", offset=(0, 0.15))
    _arrow(ax, (right(2), top), (left(3), top))
    _arrow(ax, (right(1), bottom), (left(3), bottom), "query features $F_q$",
           offset=(0, 0.16))
    _arrow(ax, (xs[3], top - h / 2 - gap), (xs[3], bottom + h / 2 + gap),
           "every prototype", offset=(0.06, 0), ha="left")
    _arrow(ax, (right(3), bottom), (left(4), bottom))
    _arrow(ax, (xs[4], bottom + h / 2 + gap), (xs[4], top - h / 2 - gap))
    # the mask skips the encoder: it goes straight to the pooling
    y0 = top + h / 2 + gap
    _arrow(ax, (xs[0], y0), (xs[2], y0), rad=-0.16, linestyle="--")
    ax.text(xs[1], y0 + 0.23, "mask $M$ and background $1 - M$", ha="center", va="center",
            fontsize=style.FONT_SIZE - 1, color=INK,
            bbox=dict(boxstyle="square,pad=0.15", fc="white", ec="none"))
    # one encoder, two uses
    ax.annotate("", (xs[1], top - h / 2 - gap), (xs[1], bottom + h / 2 + gap),
                arrowprops=dict(arrowstyle="<->", color=INK, linestyle=":", linewidth=1.0,
                                shrinkA=0, shrinkB=0))
    ax.text(xs[1] + 0.08, (top + bottom) / 2, "the same\nweights", ha="left", va="center",
            fontsize=style.FONT_SIZE - 1, color=INK)
    return fig


@style.drawn
def plot_par_diagram():
    """Prototype alignment (PAR) as a diagram -> Figure (one axis, no ticks).

    Top row, the forward pass: support and mask -> support prototypes -> query prediction.
    Bottom row, PAR (filled in the method's colour), right to left: the prediction's argmax
    masks pool query prototypes, which re-segment the support; the loss is the cross-entropy
    against the support's own mask.
    """
    fig, ax = _canvas(2.6, 3.0, 1.08)
    par = style.colour("trained")
    boxes = [  # (x centre, y centre, text, a PAR step?)
        (0.5, 0.82, "support image\n+ its mask $M_s$", False),
        (1.5, 0.82, "support prototypes\n$p_{bg}, p_n$  (1)(2)", False),
        (2.5, 0.82, "query prediction\n$\\tilde M_q$ (3), $\\hat M_q$ (4)", False),
        (2.5, 0.22, "query prototypes\n$\\bar p_{\\mathrm{bg}}, \\bar p_n$ pooled", True),
        (1.5, 0.22, "support re-segmented\n$\\tilde M_s$ by $[\\bar p_{\\mathrm{bg}}, \\bar p_n]$", True),
        (0.5, 0.22, "$\\mathcal{L}_{PAR}$: cross-entropy\nagainst $M_s$", True),
    ]
    for x, y, text, is_par in boxes:
        _box(ax, x, y, 0.86, 0.30, text, fc=par if is_par else BOX,
             color="white" if is_par else "black")
    _arrow(ax, (0.95, 0.82), (1.05, 0.82))
    _arrow(ax, (1.95, 0.82), (2.05, 0.82))
    _arrow(ax, (2.5, 0.65), (2.5, 0.39), "argmax masks:\nno gradient", offset=(0.04, 0),
           ha="left")
    _arrow(ax, (2.05, 0.22), (1.95, 0.22))
    _arrow(ax, (1.05, 0.22), (0.95, 0.22))
    _arrow(ax, (0.5, 0.65), (0.5, 0.39), "label", offset=(0.04, 0), ha="left",
           linestyle="--")
    return fig


__all__ = ["plot_pipeline", "plot_par_diagram"]
