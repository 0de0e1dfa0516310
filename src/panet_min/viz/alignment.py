"""Figures of PAR, prototype alignment (paper eq. 6; book chapter 6).

``plot_par`` draws one (episode, way, shot) of the intermediates that
:func:`panet_min.alignment.par_terms` returns with the loss (the very function training uses):
query prediction -> hard mask -> support re-segmented by the query prototypes -> the loss per
pixel. ``plot_gradient_paths`` compares gradient norms along the paths PAR opens.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from .forward import _off
from .overlays import overlay_labels
from . import style


def plot_par(steps: dict, support_images: torch.Tensor, query_images: torch.Tensor, episode: int = 0,
             way: int = 0, shot: int = 0, query: int = 0, query_labels: torch.Tensor | None = None,
             figsize=(12, 2.9), dpi: int = 100):
    """PAR side by side for one (episode, way, shot): a Figure with 5 axes.

    1 query with its prediction at feature resolution (argmax, upsampled nearest for display);
    2 the hard mask of this way on the h x w grid (what the query prototype is pooled over);
    3 the support with its label (red fg, grey ignored); 4 P(fg) when the *query* prototypes
    re-segment the support; 5 the cross-entropy per pixel against the support label.
    ``support_images [B,N,K,3,H,W]``, ``query_images [B,Q,3,H,W]``; ``steps``: the dict of
    :func:`panet_min.alignment.par_terms` (or ``par_loss(..., return_parts=True)``) for the batch.
    """
    b, n, k, q = episode, way, shot, query
    hard = steps["query_hard"][b, q]
    H, W = query_images.shape[-2:]
    hard_up = F.interpolate(hard[None, None].float(), size=(H, W), mode="nearest")[0, 0].long()
    fig, axes = plt.subplots(1, 5, figsize=style.fit(figsize), dpi=dpi)
    axes[0].imshow(overlay_labels(query_images[b, q], hard_up.detach().numpy()))
    axes[0].set_title("1. query prediction\n(argmax at feature res.)", fontsize=9)
    if query_labels is not None:
        axes[0].contour((query_labels[b, q] == n + 1).detach().numpy(), levels=[0.5], colors="white", linewidths=0.8)
    axes[1].imshow((hard == n + 1).detach().numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    axes[1].set_title(f"2. hard mask of way {n + 1}\n{hard.shape[0]}x{hard.shape[1]}, no gradient", fontsize=9)
    lab = steps["support_labels"][b, n, k]
    axes[2].imshow(overlay_labels(support_images[b, n, k], lab.detach().numpy()))
    axes[2].set_title(f"3. support (way {n + 1}, shot {k + 1})\nlabel: red fg, grey ignored", fontsize=9)
    prob = steps["support_logits"][b, n, k].softmax(dim=0)[1]
    im = axes[3].imshow(prob.detach().numpy(), cmap="magma", vmin=0, vmax=1)
    axes[3].contour((lab == 1).detach().numpy(), levels=[0.5], colors="cyan", linewidths=0.8)
    axes[3].set_title("4. P(fg) from the query's\nprototypes (cyan: true fg)", fontsize=9)
    fig.colorbar(im, ax=axes[3], fraction=0.046)
    pix = steps["pixel_loss"][b, n, k].masked_fill(lab == 255, float("nan"))
    im = axes[4].imshow(pix.detach().numpy(), cmap="viridis")
    term = (f"term = {float(steps['terms'][b, n, k]):.4f}" if bool(steps["present"][b, n])
            else "way skipped: empty hard mask")
    axes[4].set_title(f"5. cross-entropy per pixel\n{term}", fontsize=9)
    fig.colorbar(im, ax=axes[4], fraction=0.046)
    for ax in axes:
        _off(ax)
    fig.tight_layout()
    return fig


def plot_gradient_paths(norms: dict, figsize=(6, 2.6), dpi: int = 100):
    """Bar chart of gradient norms per path, ``norms``: {label: float} -> Figure with 1 axis."""
    fig, ax = plt.subplots(figsize=style.fit(figsize), dpi=dpi)
    labels = list(norms)
    ax.barh(labels, [norms[k] for k in labels], color=["#4c72b0", "#dd8452", "#55a868", "#8172b2"][:len(labels)])
    ax.invert_yaxis()
    ax.set_xlabel("gradient norm at the encoder's first conv weight")
    for i, k in enumerate(labels):
        ax.text(norms[k], i, f" {norms[k]:.3g}", va="center", fontsize=9)
    fig.tight_layout()
    return fig
