"""Figures of PAR, prototype alignment (the PAR loss L_PAR; book chapter 6).

``plot_par`` draws one (episode, way, shot) of the intermediates that
:func:`panet_min.alignment.par_terms` returns with the loss (the very function training uses):
query prediction -> hard mask -> support re-segmented by the query prototypes -> the loss per
pixel. ``plot_gradient_paths`` compares gradient norms along the paths PAR opens.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from .forward import axis_off
from .overlays import overlay_labels
from . import style


@style.drawn
def plot_par(steps: dict, support_images: torch.Tensor, query_images: torch.Tensor, episode: int = 0,
             way: int = 0, shot: int = 0, query: int = 0, query_labels: torch.Tensor | None = None,
             figsize=(style.WIDTH, 2.3), dpi: int = style.DPI, title: str | None = None):
    """PAR side by side for one (episode, way, shot): a Figure with 5 image axes (and 2 colour bars).

    1 query with its prediction at feature resolution (argmax, upsampled nearest for display;
    white: the query's true mask when ``query_labels`` is given); 2 the hard mask of this way on
    the h x w grid (what the query prototype is pooled over, no gradient); 3 the support with its
    label (red fg, grey ignored); 4 P(fg) when the *query* prototypes re-segment the support (cyan:
    the support's true foreground); 5 the cross-entropy per pixel against the support label, with
    the way's term (or "way skipped" when its hard mask is empty). ``title``: a line above all.
    ``support_images [B,N,K,3,H,W]``, ``query_images [B,Q,3,H,W]``; ``steps``: the dict of
    :func:`panet_min.alignment.par_terms` (or ``par_loss(..., return_parts=True)``) for the batch.
    """
    b, n, k, q = episode, way, shot, query
    hard = steps["query_hard"][b, q]
    H, W = query_images.shape[-2:]
    hard_up = F.interpolate(hard[None, None].float(), size=(H, W), mode="nearest")[0, 0].long()
    fig, axes = plt.subplots(1, 5, figsize=style.fit(figsize), dpi=dpi, layout="constrained")
    axes[0].imshow(overlay_labels(query_images[b, q], hard_up.detach().numpy()))
    axes[0].set_title("1. query, its\nhard prediction")
    if query_labels is not None:
        axes[0].contour((query_labels[b, q] == n + 1).detach().numpy(), levels=[0.5], colors="white",
                        linewidths=0.8)
    axes[1].imshow((hard == n + 1).detach().numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    axes[1].set_title(f"2. hard mask of\nway {n + 1}, {hard.shape[0]}x{hard.shape[1]}")
    lab = steps["support_labels"][b, n, k]
    axes[2].imshow(overlay_labels(support_images[b, n, k], lab.detach().numpy()))
    axes[2].set_title(f"3. support {k + 1}\n+ its label")
    prob = steps["support_logits"][b, n, k].softmax(dim=0)[1]
    im = axes[3].imshow(prob.detach().numpy(), cmap="magma", vmin=0, vmax=1)
    axes[3].contour((lab == 1).detach().numpy(), levels=[0.5], colors="cyan", linewidths=0.8)
    axes[3].set_title("4. P(fg) from\nquery prototypes")
    fig.colorbar(im, ax=axes[3], fraction=0.046)
    pix = steps["pixel_loss"][b, n, k].masked_fill(lab == 255, float("nan"))
    im = axes[4].imshow(pix.detach().numpy(), cmap="viridis")
    term = (f"term {float(steps['terms'][b, n, k]):.3f}" if bool(steps["present"][b, n])
            else "way skipped")
    axes[4].set_title(f"5. CE per pixel\n{term}")
    fig.colorbar(im, ax=axes[4], fraction=0.046)
    for ax in axes:
        axis_off(ax)
    if title:
        fig.suptitle(title)
    return fig


@style.drawn
def plot_gradient_paths(norms: dict, figsize=(style.WIDTH, 2.2), dpi: int = style.DPI, colours=None):
    """Bar chart of gradient norms per path, ``norms``: {label: float} -> Figure with 1 axis.

    ``colours``: ``{label: meaning or colour}``; by default every label that names PAR takes the
    method's colour (``style.colour("trained")``) and the others a colour of ``style.OTHER``.
    """
    labels = list(norms)
    default = {k: "trained" for k in labels if "PAR" in k}
    colour_of = style.colours_for(labels, {**default, **(colours or {})})
    fig, ax = plt.subplots(figsize=style.fit(figsize), dpi=dpi, layout="constrained")
    ax.barh(labels, [norms[k] for k in labels], color=[colour_of[k] for k in labels])
    ax.invert_yaxis()
    ax.set_xlabel("gradient norm at the encoder's first conv weight")
    top = max([v for v in norms.values()] + [0.0])
    ax.set_xlim(0, 1.2 * top if top > 0 else 1.0)  # room for the value labels
    for i, k in enumerate(labels):
        ax.text(norms[k], i, f" {norms[k]:.3g}", va="center", fontsize=style.FONT_SIZE - 1)
    return fig
