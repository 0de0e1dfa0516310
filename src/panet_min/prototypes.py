"""Masked average pooling and prototypes (the paper's foreground and background prototypes).

For support image k of way c with features F (C x h x w) and binary mask M
(H x W), the original first upsamples F bilinearly to H x W and then averages
it over the mask:

    p_c = sum_{x,y} F^up(x,y) M(x,y) / (sum_{x,y} M(x,y) + 1e-5)       (foreground prototype)

and the background prototype is the same with the background mask.
Foreground prototype of a way = mean over its K shots; the single background
prototype = mean over the K shots of every way, then over the N ways.

Speed without changing the numbers: bilinear upsampling is linear and
separable, F^up = U_h F U_w^T with U_h (H x h) and U_w (W x w). So

    sum_{x,y} F^up M = sum_{i,j} F(i,j) (U_h^T M U_w)(i,j)

and we pool F against the *down-projected* mask U_h^T M U_w (h x w) instead
of building a C x H x W tensor (356 MB per VGG image at 417 x 417). The
result equals the original up to float rounding; ``method="upsample"`` runs
the literal version and the tests compare the two.
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

EPS = 1e-5


@functools.lru_cache(maxsize=32)
def _interp_matrix(n_in: int, n_out: int, device: str, dtype: torch.dtype) -> torch.Tensor:
    """U^T of 1-D linear interpolation (align_corners=False): ``[n_in, n_out]``.

    Row i holds the weights with which input sample i reaches each output
    sample; 2-D bilinear resizing in PyTorch is this matrix applied per axis.
    """
    eye = torch.eye(n_in, dtype=torch.float64)[None]  # [1, n_in, n_in]: n_in channels of length n_in
    rows = F.interpolate(eye, size=n_out, mode="linear", align_corners=False)[0]
    return rows.to(device=device, dtype=dtype)


def downproject_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``[..., H, W] -> [..., h, w]``: the adjoint of bilinear upsampling h x w -> H x W."""
    H, W = mask.shape[-2:]
    uh = _interp_matrix(size[0], H, str(mask.device), mask.dtype)  # [h, H]
    uw = _interp_matrix(size[1], W, str(mask.device), mask.dtype)  # [w, W]
    return uh @ mask @ uw.transpose(0, 1)


def masked_average_pooling(features: torch.Tensor, mask: torch.Tensor, method: str = "adjoint") -> torch.Tensor:
    """Masked average pooling (the foreground prototype of one support): ``features [..., C, h, w]``, ``mask [..., H, W]`` -> ``[..., C]``.

    Leading dimensions must match (e.g. ``[B, N, K]``). ``mask`` is {0, 1}
    (float); the features are bilinearly upsampled to the mask's size, as the
    original, and averaged with weight ``mask``; eps = 1e-5 in the denominator.
    ``method``: ``"adjoint"`` (fast, see the module docstring) or ``"upsample"``
    (the original's literal computation).
    """
    mask = mask.to(features.dtype)
    denom = mask.sum(dim=(-2, -1)) + EPS  # [...]
    if method == "upsample":
        lead, (c, h, w) = features.shape[:-3], features.shape[-3:]
        up = F.interpolate(features.reshape(-1, c, h, w), size=mask.shape[-2:], mode="bilinear", align_corners=False)
        up = up.reshape(*lead, c, *mask.shape[-2:])
        return (up * mask.unsqueeze(-3)).sum(dim=(-2, -1)) / denom.unsqueeze(-1)
    if method != "adjoint":
        raise ValueError(f"unknown pooling method {method!r}: 'adjoint' or 'upsample'")
    weights = downproject_mask(mask, features.shape[-2:])  # [..., h, w]
    pooled = torch.einsum("...chw,...hw->...c", features, weights)
    return pooled / denom.unsqueeze(-1)


def episode_prototypes(fg_vectors: torch.Tensor, bg_vectors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Prototypes of B episodes from pooled support vectors ``[B, N, K, C]``.

    Returns ``bg [B, C]`` (mean over the K shots, then over the N ways: one
    background shared by all ways, as the original) and ``fg [B, N, C]`` (mean
    over the K shots of each way).
    """
    fg = fg_vectors.mean(dim=2)
    bg = bg_vectors.mean(dim=2).mean(dim=1)
    return bg, fg
