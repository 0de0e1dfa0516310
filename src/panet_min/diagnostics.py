"""What a training log records to tell a healthy run from one that collapses (book chapters 7, 11).

A run whose query loss sits near ln 2 (a 1-way episode predicted 50/50 everywhere) has stopped
learning; to see *why*, :mod:`panet_min.train` logs, besides its losses, the signals below. Each is
summed and maxed on the device between two log lines (no host sync per step) and written as the
mean and the maximum over the steps since the previous line:

- ``grad_norm`` (total) and ``grad_norm_blockB`` (the encoder's block B, :func:`parameter_groups`):
  the L2 norm of the gradient before the SGD step (``grad_norm_max``: the largest single step);
- ``proto_norm_fg`` / ``proto_norm_bg``: the L2 norm of the foreground and background prototypes
  (mean over the batch's ways and episodes): prototypes that shrink or blow up show a feature space
  that has degenerated;
- ``proto_cos_fg_bg``: the cosine similarity between each way's foreground prototype and the
  background prototype: near 1, every pixel is as close to one as to the other, the logits are
  equal and the query loss sits at ln(1+N) (ln 2 for one way), whatever the image;
- ``loss_max``: the largest single-step loss (a spike that the mean hides).

:func:`prototype_distance` measures how far the support prototype is from the query's own prototype
(the paper's alignment figure) in the Euclidean distance and, since that one grows with the
features' scale, also as cosine distance.
"""
from __future__ import annotations

import torch

from .prototypes import EPS, masked_average_pooling


def parameter_groups(encoder: torch.nn.Module) -> list[tuple[str, list[torch.nn.Parameter]]]:
    """``[("block1", params), ...]``: the encoder's parameters by block (VGG-16: 5 blocks of 2, 2, 3,
    3 and 3 convs, ``Encoder.block_sizes``); one group ``"encoder"`` for an encoder without blocks."""
    sizes = getattr(encoder, "block_sizes", None)
    convs = encoder.convs() if hasattr(encoder, "convs") else []
    if not sizes or sum(sizes) != len(convs):
        return [("encoder", [p for p in encoder.parameters()])]
    groups, start = [], 0
    for b, n in enumerate(sizes, start=1):
        groups.append((f"block{b}", [p for conv in convs[start:start + n] for p in conv.parameters()]))
        start += n
    return groups


class StepSignals:
    """Per-step signals summed (and maxed) on the device; :meth:`flush` returns the log fields.

    ``add(losses [3] (loss, query loss, PAR loss), prototypes (bg [B,C], fg [B,N,C]))`` after
    ``backward`` and before the optimizer step (the gradients are read there).
    """

    def __init__(self, encoder: torch.nn.Module, device: torch.device):
        self.groups = parameter_groups(encoder)
        self.names = (["loss", "query_loss", "par_loss", "grad_norm"] + [f"grad_norm_{n}" for n, _ in self.groups]
                      + ["proto_norm_fg", "proto_norm_bg", "proto_cos_fg_bg"])
        self.sum = torch.zeros(len(self.names), device=device)
        self.max = torch.full((len(self.names),), -torch.inf, device=device)
        self.count = 0

    def add(self, losses: torch.Tensor, prototypes: tuple[torch.Tensor, torch.Tensor]) -> None:
        with torch.no_grad():
            block = []
            for _, params in self.groups:
                grads = [p.grad for p in params if p.grad is not None]
                block.append(torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)).float())
                             if grads else losses.new_zeros(()))
            block = torch.stack(block)
            bg, fg = (x.detach().float() for x in prototypes)
            cos = torch.nn.functional.cosine_similarity(fg, bg.unsqueeze(1).expand_as(fg), dim=-1, eps=EPS)
            values = torch.cat([losses.detach().float(), torch.linalg.vector_norm(block).view(1), block,
                                fg.norm(dim=-1).mean().view(1), bg.norm(dim=-1).mean().view(1), cos.mean().view(1)])
            self.sum += values
            torch.maximum(self.max, values, out=self.max)
        self.count += 1

    def flush(self) -> dict:
        """``{name: mean since the last flush}`` plus ``loss_max`` and ``grad_norm_max`` (one host
        sync); then starts over."""
        mean = (self.sum / max(self.count, 1)).tolist()
        top = self.max.tolist()
        out = dict(zip(self.names, mean))
        out["loss_max"] = top[0]
        out["grad_norm_max"] = top[3]
        self.sum.zero_()
        self.max.fill_(-torch.inf)
        self.count = 0
        return out


def query_prototypes(features: torch.Tensor, labels: torch.Tensor, ways: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The query's own foreground prototypes, pooled with its *true* masks.

    ``features [B,Q,C,h,w]``, ``labels [B,Q,H,W]`` (0..N, 255). Way n's prototype is masked average
    pooling of every query's features with ``label == n``, averaged over the Q queries weighted by
    their areas. Returns ``(prototypes [B,N,C], present [B,N] bool)`` (present: way n shows in a query).
    """
    B, Q = labels.shape[:2]
    feats = features.unsqueeze(1).expand(B, ways, *features.shape[1:])  # [B,N,Q,C,h,w]
    way_ids = torch.arange(1, ways + 1, device=labels.device).view(1, ways, 1, 1, 1)
    masks = (labels.unsqueeze(1) == way_ids).float()  # [B,N,Q,H,W]
    area = masks.sum(dim=(-2, -1))  # [B,N,Q]
    pooled = masked_average_pooling(feats, masks)  # [B,N,Q,C]
    protos = (pooled * (area + EPS).unsqueeze(-1)).sum(2) / (area.sum(2) + EPS).unsqueeze(-1)
    return protos, area.sum(2) > 0


def prototype_distances(support_fg: torch.Tensor, query_fg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(Euclidean [B,N], cosine distance 1 - cos [B,N])`` between ``support_fg [B,N,C]`` and
    ``query_fg [B,N,C]`` (fp32)."""
    s, q = support_fg.float(), query_fg.float()
    return (s - q).norm(dim=-1), 1 - torch.nn.functional.cosine_similarity(s, q, dim=-1, eps=EPS)


def prototype_distance(model, query_images: torch.Tensor, query_labels: torch.Tensor,
                       support_fg: torch.Tensor) -> torch.Tensor:
    """Mean Euclidean ``||p_support - p_query||`` over the (episode, way) pairs whose class is in a
    query (what training logs as ``proto_dist``). ``query_images [B,Q,3,H,W]``, ``query_labels
    [B,Q,H,W]``, ``support_fg [B,N,C]`` (the model's foreground prototypes). NaN when no query shows
    any of its ways."""
    B, Q = query_images.shape[:2]
    with torch.no_grad():
        feats = model.encoder(query_images.flatten(0, 1)).float()
        protos, present = query_prototypes(feats.reshape(B, Q, *feats.shape[1:]), query_labels, support_fg.shape[1])
        dist, _ = prototype_distances(support_fg.detach(), protos)
        return (dist * present).sum() / present.sum()
