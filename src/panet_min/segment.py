"""Cosine segmentation against prototypes (the logits of the paper's probability map).

Each query position x gets a score for each prototype p_j (background first,
then way 1..N):

    logit_j(x) = alpha * cos(F_q(x), p_j),      alpha = 20

The probability map is the softmax of these over j, and the prediction its
argmax over j. Cosine lives in [-1, 1]; a softmax over such small numbers would
be almost flat, so the original scales them by alpha = 20 before the
cross-entropy (the paper found 20 works well).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

# PyTorch's F.cosine_similarity clamps each norm at eps = 1e-8; we do the same
# so that a zero prototype (an empty mask) scores 0, not NaN.
COS_EPS = 1e-8


def cosine_logits(features: torch.Tensor, prototypes: torch.Tensor, alpha: float = 20.0) -> torch.Tensor:
    """``features [B, ..., C, h, w]``, ``prototypes [B, P, C]`` -> ``[B, ..., P, h, w]``.

    Equal to ``alpha * F.cosine_similarity(features, p[..., None, None], dim=C)``
    for each prototype (the original's ``calDist``), computed for all P at once
    with one einsum on unit vectors.
    """
    f = features / features.norm(dim=-3, keepdim=True).clamp_min(COS_EPS)
    p = prototypes / prototypes.norm(dim=-1, keepdim=True).clamp_min(COS_EPS)
    extra = f.dim() - 4  # dims between B and C, e.g. Q queries
    p = p.reshape(p.shape[0], *([1] * extra), *p.shape[1:])
    return alpha * torch.einsum("...chw,...pc->...phw", f, p)


def upsample_logits(logits: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of ``[..., P, h, w]`` to ``[..., P, H, W]`` (align_corners=False, as the original)."""
    lead, (p, h, w) = logits.shape[:-3], logits.shape[-3:]
    up = F.interpolate(logits.reshape(-1, p, h, w), size=size, mode="bilinear", align_corners=False)
    return up.reshape(*lead, p, *size)
