"""Input checks for the model: bad input gets a ValueError that names the problem.

The original silently returns a zero prototype for an empty mask (sum / 1e-5)
and lets shape mistakes surface as broadcasting errors deep in the forward
pass; here they are caught at the door.
"""
from __future__ import annotations

import torch


def _rank(name: str, t: torch.Tensor, rank: int, layout: str) -> None:
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor {layout}, got {type(t).__name__}")
    if t.dim() != rank:
        raise ValueError(f"{name} must have shape {layout} ({rank} dims), got {tuple(t.shape)}")


def check_episode(support_images, support_fg, support_bg, query_images, allow_empty: bool = False) -> None:
    """Validate one batch of episodes for :class:`panet_min.PANet`.

    ``support_images [B,N,K,3,H,W]``, ``support_fg``/``support_bg [B,N,K,H,W]``
    in {0,1}, ``query_images [B,Q,3,H,W]``. Raises ValueError on wrong ranks,
    sizes that differ, non-finite pixels, masks that are not {0,1}, or a support
    foreground mask with no pixel (naming the episode, way and shot) unless ``allow_empty``.
    """
    _rank("support_images", support_images, 6, "[B, N, K, 3, H, W]")
    _rank("support_fg", support_fg, 5, "[B, N, K, H, W]")
    _rank("support_bg", support_bg, 5, "[B, N, K, H, W]")
    _rank("query_images", query_images, 5, "[B, Q, 3, H, W]")
    B, N, K, c, H, W = support_images.shape
    if c != 3:
        raise ValueError(f"support_images must have 3 colour channels at dim 3, got {c}")
    for name, m in (("support_fg", support_fg), ("support_bg", support_bg)):
        if tuple(m.shape[:3]) != (B, N, K):
            raise ValueError(f"{name} has (B, N, K) = {tuple(m.shape[:3])} but support_images has {(B, N, K)}")
        if tuple(m.shape[-2:]) != (H, W):
            raise ValueError(f"{name} is {tuple(m.shape[-2:])} pixels but its support images are {(H, W)}: "
                             "masks must have the size of their image")
        if not bool(((m == 0) | (m == 1)).all()):
            raise ValueError(f"{name} must be a binary mask with values 0 and 1")
    if query_images.shape[0] != B or query_images.shape[2] != 3:
        raise ValueError(f"query_images must be [B={B}, Q, 3, H, W], got {tuple(query_images.shape)}")
    if tuple(query_images.shape[-2:]) != (H, W):
        raise ValueError(f"query images are {tuple(query_images.shape[-2:])} pixels but support images are "
                         f"{(H, W)}: resize them to one size first")
    for name, t in (("support_images", support_images), ("query_images", query_images)):
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} contains NaN or infinite pixel values")
    empty = (support_fg.flatten(3).sum(-1) == 0).nonzero()
    if len(empty) and not allow_empty:
        b, n, k = empty[0].tolist()
        raise ValueError(f"empty support foreground mask: episode {b}, way {n}, shot {k} has no foreground "
                         "pixel (a prototype needs at least one)")
