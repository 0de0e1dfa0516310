"""MSRC-v2 photos and label maps in the dataset's own colours and legend (chapters 0 and 2).

The colours and names are the dataset's (``panet_min.data.msrc.MSRC_LEGEND``); void is black.
"""
from __future__ import annotations

import numpy as np

from ..data.msrc import MSRC_LEGEND
from . import style
from .overlays import as_numpy, legend_patch, to_image

MSRC_VOID = "void (ignored)"


def msrc_colour_map(label) -> np.ndarray:
    """An MSRC-v2 label map ``[H, W]`` (ids 1..23 as in ``MSRC_LEGEND``, 255 void) -> uint8
    RGB ``[H, W, 3]`` in the legend's colours; void (and 0, which MSRC does not use) is black.

    Any other id, or a map that is not 2-D -> ValueError.
    """
    lab = as_numpy(label)
    if lab.ndim != 2:
        raise ValueError(f"an MSRC label map is [H, W], got shape {lab.shape}")
    lab = lab.astype(np.int64)
    bad = np.setdiff1d(np.unique(lab), [0, 255, *range(1, len(MSRC_LEGEND) + 1)])
    if bad.size:
        raise ValueError(f"label ids {bad.tolist()} are not MSRC-v2 ids (1..{len(MSRC_LEGEND)}, "
                         "255 void)")
    palette = np.zeros((256, 3), np.uint8)
    palette[1:len(MSRC_LEGEND) + 1] = [rgb for _, rgb in MSRC_LEGEND]
    return palette[lab]


def add_msrc_legend(fig, labels, void: bool = True, ncol: int | None = None):
    """A legend below ``fig`` for the MSRC-v2 classes present in ``labels``.

    ``labels``: one label map ``[H, W]`` or a sequence of them (ids as in
    :func:`msrc_colour_map`); one entry per class present, in id order, and a black
    ``"void (ignored)"`` entry if ``void``. ``ncol``: entries per row (default: all in one
    row up to 6, else 5). ``fig`` should use a layout engine (``style.figure`` does): the
    legend goes ``outside lower center``. Returns the matplotlib ``Legend``.
    """
    maps = [labels] if as_numpy(labels).ndim == 2 else list(labels)
    present = set()
    for lab in maps:
        msrc_colour_map(lab)  # checks the ids
        present |= set(np.unique(as_numpy(lab)).tolist()) - {0, 255}
    ids = sorted(present)
    handles = [legend_patch(np.array(MSRC_LEGEND[c - 1][1]) / 255) for c in ids]
    texts = [MSRC_LEGEND[c - 1][0] for c in ids]
    if void:
        handles.append(legend_patch((0, 0, 0)))
        texts.append(MSRC_VOID)
    if not texts:
        raise ValueError("no class in the label maps and void=False: nothing to put in a legend")
    ncol = ncol or (len(texts) if len(texts) <= 6 else 5)
    return fig.legend(handles, texts, loc="outside lower center", ncol=ncol, frameon=False)


def show_msrc_photos(photos, labels, titles=None, msrc: bool = True):
    """Photos in the first row, their label maps below, a legend of the classes shown.

    ``photos``: uint8 RGB ``[H, W, 3]`` each (a source's ``.image(id)``); ``labels``: one label
    map ``[H, W]`` per photo (``.label(id)``); ``titles``: one per photo (e.g. the image ids).
    ``msrc``: label maps in the MSRC-v2 legend's colours with :func:`add_msrc_legend`; False
    for another dataset: its label ids drawn with a colour map, no legend. Panels keep the
    first photo's aspect; the Figure is ``style.WIDTH`` wide, with ``2 * len(photos)`` axes.
    """
    photos, labels = list(photos), list(labels)
    if not photos or len(photos) != len(labels):
        raise ValueError(f"need one label map per photo, got {len(photos)} photos and "
                         f"{len(labels)} label maps")
    if titles is not None and len(titles) != len(photos):
        raise ValueError(f"need one title per photo, got {len(titles)} for {len(photos)}")
    for photo, lab in zip(photos, labels):
        if as_numpy(photo).shape[:2] != as_numpy(lab).shape:
            raise ValueError(f"photo {as_numpy(photo).shape} and label map {as_numpy(lab).shape} differ")
    h, w = as_numpy(photos[0]).shape[:2]
    fig, axes = style.figure(2, len(photos), panel_aspect=h / w, extra_height=0.7)
    for col, (photo, lab) in enumerate(zip(photos, labels)):
        axes[0, col].imshow(to_image(photo))
        if titles is not None:
            axes[0, col].set_title(str(titles[col]))
        axes[1, col].imshow(msrc_colour_map(lab) if msrc else as_numpy(lab), interpolation="nearest")
    for ax in axes.flat:
        ax.set_axis_off()
    if msrc:
        add_msrc_legend(fig, labels)
    return fig
