"""Figures for the forward pass and for PAR (prototype alignment, paper eq. 5-6).

``par_steps`` recomputes, from the package's own functions, every intermediate
of the alignment loss for a batch of episodes (hard query masks, query
prototypes, support re-segmentation, per-term losses) so a chapter can plot
them and check that they add up to ``PANet(...).par_loss``. ``plot_par`` draws
one (episode, way, shot) of it side by side: query prediction -> hard mask ->
support re-segmented by the query prototypes -> the loss per pixel.
``plot_forward`` draws one episode's supports, query and prediction.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from ..alignment import query_prototypes, support_labels
from ..segment import cosine_logits, upsample_logits
from .overlays import BG_COLOR, overlay_labels, overlay_mask

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


def _off(ax):
    ax.set_xticks([])
    ax.set_yticks([])


@torch.no_grad()
def par_steps(support_features: torch.Tensor, query_features: torch.Tensor, low_res_logits: torch.Tensor,
              support_fg: torch.Tensor, support_bg: torch.Tensor, alpha: float = 20.0) -> dict:
    """Every intermediate of the PAR loss (eq. 5-6) for B episodes, from the package's functions.

    Inputs as ``panet_min.alignment.par_loss``: ``support_features [B,N,K,C,h,w]``,
    ``query_features [B,Q,C,h,w]``, ``low_res_logits [B,Q,1+N,h,w]``, ``support_fg/bg [B,N,K,H,W]``.
    Returns a dict of tensors:
    ``query_hard [B,Q,h,w]`` (argmax at feature resolution), ``query_prototypes [B,1+N,C]``,
    ``present [B,N]`` (False: the way is skipped), ``support_logits [B,N,K,2,H,W]`` (re-segmentation
    with [query bg, query way n]), ``support_labels [B,N,K,H,W]`` (1 fg, 0 bg, 255 ignored),
    ``pixel_loss [B,N,K,H,W]`` (cross-entropy, 0 where ignored), ``terms [B,N,K]`` (per-support
    loss, before /N/K; 0 for skipped ways) and ``loss`` (mean over B of sum(terms)/(N K)).
    """
    B, N, K = support_fg.shape[:3]
    H, W = support_fg.shape[-2:]
    protos, present = query_prototypes(query_features, low_res_logits)
    pairs = torch.stack([protos[:, :1].expand(B, N, -1), protos[:, 1:]], dim=2)  # [B,N,2,C]
    feats = support_features.reshape(B * N, K, *support_features.shape[-3:])
    logits = cosine_logits(feats, pairs.reshape(B * N, 2, -1), alpha)
    logits = upsample_logits(logits, (H, W)).reshape(B, N, K, 2, H, W)
    labels = support_labels(support_fg, support_bg)
    pixel = F.cross_entropy(logits.flatten(0, 2), labels.flatten(0, 2), ignore_index=255, reduction="none")
    pixel = pixel.reshape(B, N, K, H, W)
    kept = (labels != 255).sum(dim=(-2, -1)).clamp_min(1)
    terms = pixel.sum(dim=(-2, -1)) / kept * present.unsqueeze(-1)
    return {"query_hard": low_res_logits.argmax(dim=2), "query_prototypes": protos, "present": present,
            "support_logits": logits, "support_labels": labels, "pixel_loss": pixel, "terms": terms,
            "loss": terms.sum(dim=(1, 2)).div(N * K).mean()}


def plot_par(steps: dict, support_images: torch.Tensor, query_images: torch.Tensor, episode: int = 0,
             way: int = 0, shot: int = 0, query: int = 0, query_labels: torch.Tensor | None = None,
             figsize=(12, 2.9), dpi: int = 90):
    """PAR side by side for one (episode, way, shot): a Figure with 5 axes.

    1 query with its prediction at feature resolution (argmax, upsampled nearest for display);
    2 the hard mask of this way on the h x w grid (what the query prototype is pooled over);
    3 the support with its label (red fg, grey ignored); 4 P(fg) when the *query* prototypes
    re-segment the support; 5 the cross-entropy per pixel against the support label.
    ``support_images [B,N,K,3,H,W]``, ``query_images [B,Q,3,H,W]``; ``steps`` from ``par_steps``.
    """
    b, n, k, q = episode, way, shot, query
    hard = steps["query_hard"][b, q]
    H, W = query_images.shape[-2:]
    hard_up = F.interpolate(hard[None, None].float(), size=(H, W), mode="nearest")[0, 0].long()
    fig, axes = plt.subplots(1, 5, figsize=figsize, dpi=dpi)
    axes[0].imshow(overlay_labels(query_images[b, q], hard_up.numpy()))
    axes[0].set_title("1. query prediction\n(argmax at feature res.)", fontsize=9)
    if query_labels is not None:
        axes[0].contour((query_labels[b, q] == n + 1).numpy(), levels=[0.5], colors="white", linewidths=0.8)
    axes[1].imshow((hard == n + 1).numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    axes[1].set_title(f"2. hard mask of way {n + 1}\n{hard.shape[0]}x{hard.shape[1]}, no gradient", fontsize=9)
    lab = steps["support_labels"][b, n, k]
    axes[2].imshow(overlay_labels(support_images[b, n, k], lab.numpy()))
    axes[2].set_title(f"3. support (way {n + 1}, shot {k + 1})\nlabel: red fg, grey ignored", fontsize=9)
    prob = steps["support_logits"][b, n, k].softmax(dim=0)[1]
    im = axes[3].imshow(prob.numpy(), cmap="magma", vmin=0, vmax=1)
    axes[3].contour((lab == 1).numpy(), levels=[0.5], colors="cyan", linewidths=0.8)
    axes[3].set_title("4. P(fg) from the query's\nprototypes (cyan: true fg)", fontsize=9)
    fig.colorbar(im, ax=axes[3], fraction=0.046)
    pix = steps["pixel_loss"][b, n, k].masked_fill(lab == 255, float("nan"))
    im = axes[4].imshow(pix.numpy(), cmap="viridis")
    term = (f"term = {float(steps['terms'][b, n, k]):.4f}" if bool(steps["present"][b, n])
            else "way skipped: empty hard mask")
    axes[4].set_title(f"5. cross-entropy per pixel\n{term}", fontsize=9)
    fig.colorbar(im, ax=axes[4], fraction=0.046)
    for ax in axes:
        _off(ax)
    fig.tight_layout()
    return fig


def plot_forward(support_images: torch.Tensor, support_fg: torch.Tensor, support_bg: torch.Tensor,
                 query_image: torch.Tensor, query_label: torch.Tensor, prediction: torch.Tensor,
                 class_names=None, title: str | None = None, max_shots: int = 3, dpi: int = 80):
    """One episode: supports (way rows x up to ``max_shots``), query ground truth, prediction.

    ``support_images [N,K,3,H,W]``, ``support_fg/bg [N,K,H,W]``, ``query_image [3,H,W]``,
    ``query_label [H,W]`` (0..N, 255), ``prediction [H,W]`` (0..N). A Figure with
    N x min(K, max_shots) + 2 axes; supports tinted in their way's colour.
    """
    N, K = support_images.shape[:2]
    ks = min(K, max_shots)
    cols = ks + 2
    fig, axes = plt.subplots(N, cols, figsize=(2.2 * cols, 2.4 * N + 0.5), dpi=dpi, squeeze=False)
    for n in range(N):
        name = class_names[n] if class_names is not None else f"way {n + 1}"
        for k in range(ks):
            fg = support_fg[n, k].cpu().numpy() > 0
            bg = support_bg[n, k].cpu().numpy() > 0
            labels = np.where(fg, n + 1, np.where(bg, 0, 255))
            axes[n, k].imshow(overlay_labels(support_images[n, k], labels))
            axes[n, k].set_title(f"support: {name}" + (f" ({k + 1}/{K})" if K > 1 else ""), fontsize=8)
    axes[0, ks].imshow(overlay_labels(query_image, query_label))
    axes[0, ks].set_title("query: ground truth", fontsize=8)
    axes[0, ks + 1].imshow(overlay_labels(query_image, prediction))
    axes[0, ks + 1].set_title("query: prediction", fontsize=8)
    for ax in axes.ravel():
        _off(ax)
        if not ax.images:
            ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def draw_view_row(axes, view: dict, result: dict | None, fg, bg, name: str) -> None:
    """One explorer view on 5 axes: support + mask, query cosine to the bg and fg prototypes (one
    colour range), query truth, prediction. ``view``/``result`` from ``panet_min.widgets``."""

    s = view["support_rgb"]
    axes[0].imshow(support_overlay(s, fg, bg))
    axes[0].set_title(f"support {view['support_id']}\n{name} (red), grey ignored", fontsize=8)
    if result is not None:
        # ReLU features make every cosine positive: one shared colour range shows which is larger
        lo = float(min(result["cos_bg"].min(), result["cos_fg"].min()))
        hi = float(max(result["cos_bg"].max(), result["cos_fg"].max()))
        for ax, key, title in ((axes[1], "cos_bg", "cos to bg prototype"), (axes[2], "cos_fg", "cos to fg prototype")):
            ax.imshow(result[key], cmap="viridis", vmin=lo, vmax=hi)
            ax.set_title(f"query: {title}\n[{lo:.2f}, {hi:.2f}] dark to bright", fontsize=8)
    q = view["query_rgb"]
    axes[3].imshow(overlay_labels(q, view["query_label"]))
    axes[3].set_title(f"query {view['query_id']}\nground truth", fontsize=8)
    if result is not None:
        axes[4].imshow(overlay_labels(q, result["prediction"]))
        axes[4].set_title(f"prediction\nIoU {result['iou']:.3f}", fontsize=8)
    else:
        axes[4].text(0.5, 0.5, "empty support:\nno prototype", ha="center", va="center", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])


def plot_gradient_paths(norms: dict, figsize=(6, 2.6), dpi: int = 90):
    """Bar chart of gradient norms per path, ``norms``: {label: float} -> Figure with 1 axis."""
    fig, ax = plt.subplots(figsize=figsize, dpi=dpi)
    labels = list(norms)
    ax.barh(labels, [norms[k] for k in labels], color=["#4c72b0", "#dd8452", "#55a868", "#8172b2"][:len(labels)])
    ax.invert_yaxis()
    ax.set_xlabel("gradient norm at the encoder's first conv weight")
    for i, k in enumerate(labels):
        ax.text(norms[k], i, f" {norms[k]:.3g}", va="center", fontsize=8)
    fig.tight_layout()
    return fig
