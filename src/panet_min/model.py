"""PANet: the forward pass for B episodes of N-way K-shot with Q queries (book chapter 5).

    support_images [B,N,K,3,H,W] --+                      +--> MAP(fg) -> fg prototypes [B,N,C]
                                   |-- encoder (1 batch) -|
    query_images   [B,Q,3,H,W]   --+                      +--> MAP(bg) -> bg prototype  [B,C]
                                                           |
    query features [B,Q,C,h,w] -- alpha * cos(., [bg, fg_1..fg_N]) -> [B,Q,1+N,h,w]
                                                           -- bilinear -> logits [B,Q,1+N,H,W]
    (training, par=True) PAR re-segments the supports with query prototypes.

The prototypes (chapter 3) and the cosine segmentation (chapter 4) run inside ``PANet.forward``;
the query loss L_seg is :func:`query_loss`, PAR's L_PAR (chapter 6) :mod:`panet_min.alignment`.
Everything is computed for all episodes at once; the original loops over
episodes and ways in Python. Numbers are the same (tests compare with a
literal per-episode version of the original's forward pass).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .alignment import par_loss
from .backbone import vgg16_encoder
from .checks import check_episode
from .prototypes import episode_prototypes, masked_average_pooling
from .segment import cosine_logits, upsample_logits


@dataclass
class PANetOutput:
    """``logits [B,Q,1+N,H,W]`` (channel 0 = background), ``par_loss`` (scalar),
    ``low_res_logits [B,Q,1+N,h,w]``, ``prototypes`` = (bg [B,C], fg [B,N,C])."""
    logits: torch.Tensor
    par_loss: torch.Tensor
    low_res_logits: torch.Tensor
    prototypes: tuple[torch.Tensor, torch.Tensor]


class PANet(nn.Module):
    """PANet (Wang et al., ICCV 2019).

    ``encoder``: any module mapping ``[B,3,H,W] -> [B,C,h,w]`` (default: VGG-16
    at output stride 8, Kaiming init; pass ``vgg16_encoder("imagenet")`` for the
    paper's initialisation). ``alpha``: the cosine scale (20). ``par``: compute
    the prototype alignment loss in training mode. ``check_inputs``: validate
    shapes and masks (one host sync; a training loop on a GPU whose data is
    already validated may turn it off). ``allow_empty_support``: accept a support
    foreground mask with no pixel (its prototype is zero, as in the original); weak
    supports evaluate with it, dense ones refuse.
    """

    def __init__(self, encoder: nn.Module | None = None, alpha: float = 20.0, par: bool = True,
                 check_inputs: bool = True, pooling: str = "adjoint", allow_empty_support: bool = False):
        super().__init__()
        # an empty support mask pools a zero prototype, as the original (weak supports may be empty)
        self.allow_empty_support = allow_empty_support
        self.encoder = encoder if encoder is not None else vgg16_encoder()
        self.alpha = alpha
        self.par = par
        self.check_inputs = check_inputs
        self.pooling = pooling

    @classmethod
    def from_checkpoint(cls, path, map_location="cpu", alpha: float | None = None) -> "PANet":
        """The trained model a ``checkpoint.pt`` of :mod:`panet_min.train` holds, in eval mode, its
        training config in ``model.config`` (:func:`panet_min.loading.from_checkpoint`)."""
        from .loading import from_checkpoint

        return from_checkpoint(path, map_location=map_location, alpha=alpha)

    @property
    def weights_info(self) -> str:
        return getattr(self.encoder, "weights_info", "unknown weights")

    def forward(self, support_images: torch.Tensor, support_fg: torch.Tensor, support_bg: torch.Tensor,
                query_images: torch.Tensor) -> PANetOutput:
        if self.check_inputs:
            check_episode(support_images, support_fg, support_bg, query_images, self.allow_empty_support)
        B, N, K = support_images.shape[:3]
        Q = query_images.shape[1]
        H, W = support_images.shape[-2:]

        # 1. All supports and queries through the encoder in one batch.
        images = torch.cat([support_images.flatten(0, 2), query_images.flatten(0, 1)])
        features = self.encoder(images)
        # Pooling, cosine and PAR in fp32, also under autocast (bf16 logits would be off by ~0.1).
        if features.dtype in (torch.float16, torch.bfloat16):
            features = features.float()
        with torch.autocast(features.device.type, enabled=False):
            return self._head(features, support_fg, support_bg, (B, N, K, Q, H, W))

    def _head(self, features, support_fg, support_bg, dims) -> PANetOutput:
        B, N, K, Q, H, W = dims
        C, h, w = features.shape[-3:]
        support_features = features[: B * N * K].reshape(B, N, K, C, h, w)
        query_features = features[B * N * K:].reshape(B, Q, C, h, w)

        # 2-3. Masked average pooling and the foreground/background prototypes.
        fg_vectors = masked_average_pooling(support_features, support_fg, self.pooling)  # [B,N,K,C]
        bg_vectors = masked_average_pooling(support_features, support_bg, self.pooling)
        bg, fg = episode_prototypes(fg_vectors, bg_vectors)

        # 4. Cosine x alpha against [bg, fg_1..fg_N] (the probability map's logits), then up to the image size.
        prototypes = torch.cat([bg.unsqueeze(1), fg], dim=1)  # [B, 1+N, C]
        low_res = cosine_logits(query_features, prototypes, self.alpha)  # [B,Q,1+N,h,w]
        logits = upsample_logits(low_res, (H, W))

        # 5. PAR, only when training.
        if self.training and self.par:
            align = par_loss(support_features, query_features, low_res, support_fg, support_bg, self.alpha)
        else:
            align = logits.new_zeros(())
        return PANetOutput(logits, align, low_res, (bg, fg))


def query_loss(logits: torch.Tensor, query_labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of ``logits [B,Q,1+N,H,W]`` against ``query_labels [B,Q,H,W]``
    (episode labels 0..N, 255 ignored), averaged over the kept pixels of all queries
    (the original's ``nn.CrossEntropyLoss(ignore_index=255)``; 0 instead of NaN when every pixel is 255)."""
    if query_labels.shape != logits.shape[:2] + logits.shape[3:]:
        raise ValueError(f"query_labels {tuple(query_labels.shape)} do not match logits {tuple(logits.shape)}")
    labels = query_labels.flatten(0, 1).long()
    pixel_loss = F.cross_entropy(logits.flatten(0, 1), labels, ignore_index=255, reduction="none")
    # = the "mean" reduction (sum over kept pixels / their count), but 0, not NaN, when all are 255
    return pixel_loss.sum() / (labels != 255).sum().clamp_min(1)


def predict(logits: torch.Tensor) -> torch.Tensor:
    """``[..., 1+N, H, W] -> [..., H, W]`` episode labels (0 = background): the argmax over the
    channels, first index on ties. Computed as ``max(...).indices`` (the same indices): on a CPU,
    ``argmax`` over a dimension of 2 or 6 channels is about 14 times slower at 241 x 241."""
    return logits.max(dim=-3).indices


__all__ = ["PANet", "PANetOutput", "query_loss", "predict"]
