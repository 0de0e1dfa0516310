"""Prototype alignment regularization, PAR (the paper's L_PAR; book chapter 6).

The idea: if the prototypes learned from the support segment the query well,
then prototypes learned *from the query's own prediction* should segment the
support well too. So, in training, per episode:

1. Turn the query prediction (at feature resolution, before upsampling) into
   hard masks by argmax over the 1+N channels. No gradient flows through the
   masks.
2. Query prototypes: masked average pooling of the query features with these
   masks, summed over all queries of the episode (eps 1e-5). Channel 0 is the
   query background prototype, channel n the prototype of way n.
3. For every way n whose predicted mask is non-empty and every shot k,
   re-segment the support with [query background, query way n] by cosine x
   alpha, upsample bilinearly to H x W, and take the cross-entropy against the
   support label (1 on its foreground, 0 on its background, 255 elsewhere):

       L_PAR = 1/(N K) sum_{n,k} CE(alpha cos(F_s(n,k), [p~_0, p~_n]), Y_s(n,k))

4. Average over the B episodes. Gradients reach the encoder through the support
   features and through the query prototypes.

Training adds it to the query loss as ``L = L_seg + lambda L_PAR`` (the total loss, ``par_weight`` in
:mod:`panet_min.train`). :func:`par_terms` is the one implementation: it returns the loss and
the intermediates the book draws; :func:`par_loss` returns its scalar.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .prototypes import EPS
from .segment import cosine_logits, upsample_logits


def support_labels(support_fg: torch.Tensor, support_bg: torch.Tensor) -> torch.Tensor:
    """``[..., H, W]`` masks -> long labels: 1 foreground, 0 background (wins where both), 255 elsewhere."""
    label = torch.full(support_fg.shape, 255, dtype=torch.long, device=support_fg.device)
    label[support_fg == 1] = 1
    label[support_bg == 1] = 0
    return label


def query_prototypes(query_features: torch.Tensor, low_res_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Prototypes from the query's own hard prediction.

    ``query_features [B, Q, C, h, w]``, ``low_res_logits [B, Q, 1+N, h, w]`` ->
    ``prototypes [B, 1+N, C]`` (pooled over all Q queries) and ``present [B, N]``
    (False for a way whose predicted mask is empty over all queries: PAR skips it).
    """
    n_channels = low_res_logits.shape[2]
    hard = F.one_hot(low_res_logits.detach().argmax(dim=2), n_channels)  # [B, Q, h, w, 1+N]
    hard = hard.permute(0, 1, 4, 2, 3).to(query_features.dtype)  # [B, Q, 1+N, h, w]
    summed = torch.einsum("bqchw,bqjhw->bjc", query_features, hard)
    area = hard.sum(dim=(1, 3, 4))  # [B, 1+N]
    return summed / (area.unsqueeze(-1) + EPS), area[:, 1:] > 0


def par_terms(support_features: torch.Tensor, query_features: torch.Tensor, low_res_logits: torch.Tensor,
              support_fg: torch.Tensor, support_bg: torch.Tensor, alpha: float = 20.0) -> dict:
    """The PAR loss and every intermediate it is computed from (what chapter 6 draws).

    Shapes: ``support_features [B, N, K, C, h, w]``, ``query_features [B, Q, C, h, w]``,
    ``low_res_logits [B, Q, 1+N, h, w]``, ``support_fg``/``support_bg [B, N, K, H, W]``.
    Returns a dict of tensors (gradients flow as in training unless the inputs are detached):

    - ``query_hard [B, Q, h, w]``: the query's hard prediction (argmax at feature resolution);
    - ``query_prototypes [B, 1+N, C]``: [query bg, query way 1..N] pooled with those masks;
    - ``present [B, N]``: False for a way with an empty predicted mask (PAR skips it);
    - ``support_logits [B, N, K, 2, H, W]``: each support re-segmented with [query bg, query way n];
    - ``support_labels [B, N, K, H, W]``: 1 foreground, 0 background, 255 ignored;
    - ``pixel_loss [B, N, K, H, W]``: cross-entropy per pixel (0 where ignored);
    - ``terms [B, N, K]``: per-support loss before the 1/(N K) (0 for a skipped way);
    - ``loss``: the scalar ``mean_b sum_{n,k} terms / (N K)`` (L_PAR), what :func:`par_loss` returns.

    All (episode, way, shot) terms are computed in one batch; a skipped way is
    multiplied by 0 (its term is finite: an empty prototype scores 0), which
    avoids a host sync in the training loop.
    """
    B, N, K = support_fg.shape[:3]
    H, W = support_fg.shape[-2:]
    protos, present = query_prototypes(query_features, low_res_logits)  # [B, 1+N, C], [B, N]
    bg = protos[:, :1].expand(B, N, -1)  # [B, N, C]
    pairs = torch.stack([bg, protos[:, 1:]], dim=2)  # [B, N, 2, C]: [query bg, query way n]
    # Re-segment every support of way n with the pair of way n.
    feats = support_features.reshape(B * N, K, *support_features.shape[-3:])
    logits = cosine_logits(feats, pairs.reshape(B * N, 2, -1), alpha)  # [B*N, K, 2, h, w]
    logits = upsample_logits(logits, (H, W)).reshape(B, N, K, 2, H, W)
    labels = support_labels(support_fg, support_bg)  # [B, N, K, H, W]
    pixel_loss = F.cross_entropy(logits.flatten(0, 2), labels.flatten(0, 2), ignore_index=255, reduction="none")
    valid = (labels.flatten(0, 2) != 255).sum(dim=(-2, -1))  # [B*N*K]
    # F.cross_entropy's "mean" with ignore_index: sum over kept pixels / their count.
    per_term = pixel_loss.sum(dim=(-2, -1)) / valid.clamp_min(1)
    terms = per_term.reshape(B, N, K) * present.unsqueeze(-1)
    return {"query_hard": low_res_logits.detach().argmax(dim=2), "query_prototypes": protos, "present": present,
            "support_logits": logits, "support_labels": labels, "pixel_loss": pixel_loss.reshape(B, N, K, H, W),
            "terms": terms, "loss": terms.sum(dim=(1, 2)).div(N * K).mean()}


def par_loss(support_features: torch.Tensor, query_features: torch.Tensor, low_res_logits: torch.Tensor,
             support_fg: torch.Tensor, support_bg: torch.Tensor, alpha: float = 20.0,
             return_parts: bool = False):
    """PAR loss L_PAR, a scalar: ``par_terms(...)["loss"]``; ``return_parts=True`` returns
    the whole dict of :func:`par_terms` (the loss and its intermediates). Shapes: see there."""
    parts = par_terms(support_features, query_features, low_res_logits, support_fg, support_bg, alpha)
    return parts if return_parts else parts["loss"]
