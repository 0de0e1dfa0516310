"""Figures of the forward pass (book chapter 5) and of the explorers' views.

``plot_forward`` draws one episode's supports, query and prediction; ``draw_view_row`` one view of
:mod:`panet_min.widgets` (support, cosine to each prototype, truth, prediction);
``support_overlay`` / ``support_picture`` a support image with its foreground and background.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy import ndimage

from .overlays import BG_COLOR, overlay_labels, overlay_mask
from . import style


def support_overlay(image, fg, bg) -> np.ndarray:
    """Support image with its masks: fg tinted red, pixels in neither fg nor bg greyed (ignored)."""
    fg = np.asarray(fg.cpu() if isinstance(fg, torch.Tensor) else fg) > 0
    bg = np.asarray(bg.cpu() if isinstance(bg, torch.Tensor) else bg) > 0
    labels = np.where(fg, 1, np.where(bg, 0, 255))
    return overlay_labels(image, labels)


def support_picture(rgb, fg, bg) -> np.ndarray:
    """fg red over a light blue bg annotation; 1-pixel scribbles drawn 3 pixels wide (display only)."""
    thick = [ndimage.binary_dilation(m) if 0 < m.mean() < 0.05 else m for m in (fg, bg)]
    return overlay_mask(overlay_mask(rgb, thick[1], BG_COLOR, alpha=0.35), thick[0], alpha=0.7)


def axis_off(ax):
    """No ticks on ``ax`` (its frame stays: a picture keeps its outline)."""
    ax.set_xticks([])
    ax.set_yticks([])


@style.drawn
def plot_forward(support_images: torch.Tensor, support_fg: torch.Tensor, support_bg: torch.Tensor,
                 query_image: torch.Tensor, query_label: torch.Tensor, prediction: torch.Tensor,
                 class_names=None, title: str | None = None, max_shots: int = 3, dpi: int = style.DPI):
    """One episode: supports (up to ``max_shots`` per way), query ground truth, prediction.

    ``support_images [N,K,3,H,W]``, ``support_fg/bg [N,K,H,W]``, ``query_image [3,H,W]``,
    ``query_label [H,W]`` (0..N, 255), ``prediction [H,W]`` (0..N). A Figure at the column's
    width with N x min(K, max_shots) + 2 axes; supports tinted in their way's colour. One shot
    per way: one row [way 1, ..., way N, truth, prediction]. Several shots: one row of shots per
    way (the class name as the row's label, "shot k/K" above each), truth and prediction to the
    right, each as tall as the N rows.
    """
    N, K = support_images.shape[:2]
    ks = min(K, max_shots)
    rows, q_size = (1, 1) if ks == 1 else (N, N)  # a query panel spans q_size rows and columns
    s_cols = N if ks == 1 else ks
    cols = s_cols + 2 * q_size
    unit = (style.WIDTH - (0.1 if ks == 1 else 0.35)) / cols  # less a row label
    height = rows * (unit + 0.28) + (0.3 if title else 0.05)
    fig = plt.figure(figsize=(style.WIDTH, height), dpi=dpi, layout="constrained")
    fig.get_layout_engine().set(w_pad=0.02, h_pad=0.02, wspace=0.02, hspace=0.02)
    grid = fig.add_gridspec(rows, cols)
    for n in range(N):
        name = class_names[n] if class_names is not None else f"way {n + 1}"
        for k in range(ks):
            ax = fig.add_subplot(grid[0, n] if ks == 1 else grid[n, k])
            fg = support_fg[n, k].cpu().numpy() > 0
            bg = support_bg[n, k].cpu().numpy() > 0
            labels = np.where(fg, n + 1, np.where(bg, 0, 255))
            ax.imshow(overlay_labels(support_images[n, k], labels))
            axis_off(ax)
            if ks == 1:
                ax.set_title(f"support: {name}" + (f" (1/{K})" if K > 1 else ""), fontsize=9)
            else:
                ax.set_title(f"shot {k + 1}/{K}", fontsize=9)
                if k == 0:
                    ax.set_ylabel(name, fontsize=9)
    for j, (labels, text) in enumerate(((query_label, "query: ground truth"), (prediction, "prediction"))):
        ax = fig.add_subplot(grid[:, s_cols + j * q_size:s_cols + (j + 1) * q_size])
        ax.imshow(overlay_labels(query_image, labels))
        ax.set_title(text, fontsize=9)
        axis_off(ax)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def draw_view_row(axes, view: dict, result: dict | None, fg, bg, name: str) -> None:
    """One explorer view on 5 axes: support + mask, query cosine to the bg and fg prototypes (one
    colour range, dark to bright), query truth, prediction. ``view``/``result`` from
    ``panet_min.widgets``. Titles fit a fifth of the column (grey on the support: ignored)."""
    s = view["support_rgb"]
    axes[0].imshow(support_overlay(s, fg, bg))
    axes[0].set_title(f"support {view['support_id']}\n{name} (red)", fontsize=9)
    if result is not None:
        # one colour range for both maps, so the brighter map is the prototype that wins the pixel
        # (cosines may be negative: the encoder has no ReLU after its last conv, see backbone.py)
        lo = float(min(result["cos_bg"].min(), result["cos_fg"].min()))
        hi = float(max(result["cos_bg"].max(), result["cos_fg"].max()))
        for ax, key, title in ((axes[1], "cos_bg", "cos to bg"), (axes[2], "cos_fg", "cos to fg")):
            ax.imshow(result[key], cmap="viridis", vmin=lo, vmax=hi)
            ax.set_title(f"query: {title}\n[{lo:.2f}, {hi:.2f}]", fontsize=9)
    q = view["query_rgb"]
    axes[3].imshow(overlay_labels(q, view["query_label"]))
    axes[3].set_title(f"query {view['query_id']}\nground truth", fontsize=9)
    if result is not None:
        axes[4].imshow(overlay_labels(q, result["prediction"]))
        axes[4].set_title(f"prediction\nIoU {result['iou']:.3f}", fontsize=9)
    else:
        axes[4].text(0.5, 0.5, "empty support:\nno prototype", ha="center", va="center", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
