"""The evaluation metric of the official code, vectorised.

Per query (one "record"), for each episode label j in {0 (background), 1..N}
*that the ground truth contains*:

    TP_j = |pred == j  and  target == j|
    FP_j = |pred == j  and  target not in {j, 255}|
    FN_j = |target == j  and  pred != j|

stored under the class's global id (0 for background). Per run, TP/FP/FN of a
class are summed over its records, and

    IoU_c = TP_c / (TP_c + FP_c + FN_c),   mean-IoU = mean over the fold's test classes
    binary IoU (FB-IoU) = mean(IoU_background, IoU_foreground), foreground = all classes summed.

The official ``Metric`` builds Python sets of pixel coordinates for this; here
one ``bincount`` of ``target * (1+N) + pred`` per query gives the confusion
matrix, and TP/FP/FN are its diagonal and margins. The tests check equality with
a literal set-based reference.
"""
from __future__ import annotations

import numpy as np
import torch


def _as_tensor(x) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))


class FewShotMeter:
    """Accumulates TP/FP/FN per global class id (index 0 = background) for one run.

    ``n_classes``: number of object classes of the dataset (20 for PASCAL).
    Accepts numpy arrays or torch tensors (on any device; sums stay on that
    device until a result is asked for, so recording adds no host sync).
    """

    def __init__(self, n_classes: int = 20):
        self.n_classes = n_classes
        self.reset()

    def reset(self) -> None:
        self.tp = self.fp = self.fn = None
        self.n_records = 0

    def _init(self, device) -> None:
        if self.tp is None:
            z = torch.zeros(self.n_classes + 1, dtype=torch.float64, device=device)
            self.tp, self.fp, self.fn = z.clone(), z.clone(), z.clone()

    def record(self, pred, target, class_ids, check: bool = True) -> None:
        """``pred [H,W]`` or ``[Q,H,W]`` in {0..N}; ``target`` the same shape in {0..N, 255};
        ``class_ids``: the N global ids of the episode's ways, in way order.
        ``check=False`` skips the value-range check (a host sync on a GPU) for data known valid."""
        pred, target = _as_tensor(pred), _as_tensor(target).to(device=_as_tensor(pred).device)
        if pred.shape != target.shape:
            raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
        if pred.dim() == 2:
            pred, target = pred[None], target[None]
        if pred.dim() != 3:
            raise ValueError(f"pred must be [H, W] or [Q, H, W], got {tuple(pred.shape)}")
        ids = [int(c) for c in (class_ids.tolist() if hasattr(class_ids, "tolist") else class_ids)]
        if any(c < 1 or c > self.n_classes for c in ids):
            raise ValueError(f"class ids {ids} outside 1..{self.n_classes}")
        L = len(ids) + 1
        pred, target = pred.long(), target.long()
        bad = (pred < 0) | (pred >= L) | (((target < 0) | (target >= L)) & (target != 255)) if check else None
        if check and bool(bad.any()):
            raise ValueError(f"pred must be in 0..{L - 1} and target in 0..{L - 1} or 255 for a {L - 1}-way episode")
        self._init(pred.device)
        Q = pred.shape[0]
        valid = target != 255
        q = torch.arange(Q, device=pred.device).view(Q, 1, 1).expand_as(pred)
        index = (q * L + target) * L + pred
        conf = torch.bincount(index[valid], minlength=Q * L * L).view(Q, L, L).double()  # [q, target, pred]
        tp = conf.diagonal(dim1=1, dim2=2)
        fp = conf.sum(dim=1) - tp
        target_count = conf.sum(dim=2)
        fn = target_count - tp
        present = (target_count > 0).double()  # a label absent from the ground truth is not counted
        slots = torch.tensor([0] + ids, device=pred.device)
        self.tp.index_add_(0, slots, (tp * present).sum(0))
        self.fp.index_add_(0, slots, (fp * present).sum(0))
        self.fn.index_add_(0, slots, (fn * present).sum(0))
        self.n_records += Q

    def _sums(self):
        if self.tp is None:
            raise ValueError("nothing recorded yet")
        return self.tp.cpu().numpy(), self.fp.cpu().numpy(), self.fn.cpu().numpy()

    def class_iou(self, class_ids) -> np.ndarray:
        """IoU of each listed global id (NaN for a class never seen in the ground truth)."""
        tp, fp, fn = self._sums()
        ids = np.asarray(list(class_ids), dtype=int)
        with np.errstate(invalid="ignore", divide="ignore"):
            return tp[ids] / (tp[ids] + fp[ids] + fn[ids])

    def mean_iou(self, class_ids) -> tuple[list[float], float]:
        """(per-class IoU in the order of ``class_ids``, their mean) — the paper's mean-IoU."""
        iou = self.class_iou(class_ids)
        return iou.tolist(), float(iou.mean())

    def binary_iou(self) -> tuple[list[float], float]:
        """([background IoU, foreground IoU], their mean) — FB-IoU as the official code."""
        tp, fp, fn = self._sums()
        t, f, n = np.array([tp[0], tp[1:].sum()]), np.array([fp[0], fp[1:].sum()]), np.array([fn[0], fn[1:].sum()])
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = t / (t + f + n)
        return iou.tolist(), float(iou.mean())
