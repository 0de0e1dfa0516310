"""The evaluation metric of the official code, vectorised (book chapter 8, "Evaluation").

Per query (one "record"), for each episode label j in {0 (background), 1..N}
*that the ground truth contains*:

    TP_j = |pred == j  and  target == j|
    FP_j = |pred == j  and  target not in {j, 255}|
    FN_j = |target == j  and  pred != j|

stored under the class's global id (0 for background). Per run, TP/FP/FN of a
class are summed over its records, and

    IoU_c = TP_c / (TP_c + FP_c + FN_c)
    mean-IoU = mean of IoU_c over the asked classes that were seen (see FewShotMeter.mean_iou)
    binary IoU (FB-IoU) = mean(IoU_background, IoU_foreground), foreground = all classes summed.

The official ``Metric`` builds Python sets of pixel coordinates for this; here
a ``bincount`` of ``target * W + pred`` per query (W = 1+N rounded up to a power
of two) gives the confusion matrix, and TP/FP/FN are its diagonal and margins.
The tests check equality with a literal set-based reference
(:class:`panet_min.reference.SetMetric`). Speed: ``benchmarks/bench.py`` prints
``record`` against one ``numpy.bincount`` of the same pixels (its floor).
"""
from __future__ import annotations

import numpy as np
import torch

# Confusion rows per query: every target value 0..255, so that 255 (ignore) needs no mask
# and an out-of-range target shows up as counts in rows 1+N..254.
_ROWS = 256
# Pixels per bincount in the numpy path: the int64 index of a chunk (512 KiB) stays in cache
# from its build to its count (the bare passes over a 417x417 query: about 10% faster than one
# chunk; within the noise of a loaded machine for the whole of ``record``).
_CHUNK = 1 << 16


def _host(x):
    """numpy for a CPU tensor (a view, no copy) or an array-like; a CUDA tensor as it is."""
    if isinstance(x, torch.Tensor):
        return x if x.device.type != "cpu" else x.detach().numpy()
    return np.asarray(x)


def _ids(class_ids) -> list[int]:
    return [int(c) for c in (class_ids.tolist() if hasattr(class_ids, "tolist") else class_ids)]


class FewShotMeter:
    """Accumulates TP/FP/FN per global class id (index 0 = background) for one run.

    ``n_classes``: number of object classes of the dataset (20 for PASCAL).
    Accepts numpy arrays or torch tensors. CPU inputs are counted with numpy (no tensor is
    created per call); CUDA tensors are counted on their device and the sums stay there until
    a result is asked for, so recording adds no host sync (with ``check=False``).

    **The mean-IoU rule** (:meth:`mean_iou`): the mean of IoU_c over the asked classes
    (a fold's test classes) *that appeared in the ground truth of at least one record*; a
    class never seen has no IoU (NaN in :meth:`class_iou`) and is left out of the mean, so the
    reported mean-IoU is never NaN. When no asked class was seen, :meth:`mean_iou` raises.
    The official ``Metric.get_mIoU`` averages over all the fold's classes: an unseen class
    gives 0/0 = NaN there and makes the whole mean NaN. The two agree whenever every test
    class appears in a run (always with the protocol's 1000 episodes; the difference shows
    only in short runs, which ``evaluate`` records in ``unseen_classes``).
    """

    def __init__(self, n_classes: int = 20):
        self.n_classes = n_classes
        self.reset()

    def reset(self) -> None:
        self._acc = None  # [3, n_classes + 1]: TP, FP, FN per global id (numpy, or a tensor on CUDA)
        self._index = None  # the int64 confusion-index buffer of the numpy path, reused between calls
        self.n_records = 0

    def record(self, pred, target, class_ids, check: bool = True) -> None:
        """``pred [H,W]`` or ``[Q,H,W]`` in {0..N}; ``target`` the same shape in {0..N, 255};
        ``class_ids``: the N global ids of the episode's ways, in way order.
        ``check=False`` skips the value-range check (a host sync on a GPU) for data known valid."""
        pred, target = _host(pred), _host(target)
        if pred.shape != target.shape:
            raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
        if len(pred.shape) not in (2, 3):
            raise ValueError(f"pred must be [H, W] or [Q, H, W], got {tuple(pred.shape)}")
        ids = _ids(class_ids)
        if ids and (min(ids) < 1 or max(ids) > self.n_classes):
            raise ValueError(f"class ids {ids} outside 1..{self.n_classes}")
        L = len(ids) + 1
        if isinstance(pred, torch.Tensor) or isinstance(target, torch.Tensor):  # one is on a GPU
            conf = self._confusion_torch(pred, target, L, check)
        else:
            conf = self._confusion_numpy(pred, target, L, check)
        self._add(conf, ids, L)

    def _range_error(self, L: int) -> ValueError:
        return ValueError(f"pred must be in 0..{L - 1} and target in 0..{L - 1} or 255 for a {L - 1}-way episode")

    def _confusion_numpy(self, pred: np.ndarray, target: np.ndarray, L: int, check: bool) -> np.ndarray:
        """[Q, 256, W] int64 counts of (target value, pred label) per query, W = the smallest
        power of two >= L (columns L..W-1 count out-of-range predictions).

        Per chunk of ``_CHUNK`` pixels (so that the index stays in cache between its passes):
        ``target * W + pred`` into a buffer kept between calls, then one ``bincount``. The range
        check of ``pred`` is one OR-reduction (W is a power of two, so ``0 <= OR(pred) < W``
        bounds every value to 0..W-1, and the columns L..W-1 catch the rest); the target's
        range is checked by the bincount itself (a negative index raises, one above 255
        lengthens it) and by the empty rows L..254."""
        p, t = pred, target
        if p.dtype.kind not in "biu":
            p = p.astype(np.int64)
        Q, n = (p.shape[0], p.shape[1] * p.shape[2]) if p.ndim == 3 else (1, p.size)
        p, t = p.reshape(Q, n), t.reshape(Q, n)
        W = 1 << (L - 1).bit_length()
        check_pred = check and p.dtype.kind != "b"
        size = _ROWS * W
        if self._index is None or self._index.size < min(n, _CHUNK):
            self._index = np.empty(min(n, _CHUNK), np.int64)
        conf = np.zeros((Q, size), np.int64)
        for q in range(Q):  # per query: the bounds on pred and target must hold within a query
            pq, tq, cq = p[q], t[q], conf[q]
            for s in range(0, n, _CHUNK):
                pc = pq[s:s + _CHUNK]
                if check_pred:
                    bits = np.bitwise_or.reduce(pc)
                    if bits < 0 or bits >= W:
                        raise self._range_error(L)
                index = self._index[:pc.size]  # written here, never the inputs
                np.multiply(tq[s:s + _CHUNK], W, out=index, dtype=np.int64)
                index += pc
                try:
                    counts = np.bincount(index, minlength=size)
                except ValueError:  # a negative target
                    raise self._range_error(L) from None
                if counts.size != size:  # a target above 255
                    raise self._range_error(L)
                cq += counts
        conf = conf.reshape(Q, _ROWS, W)
        if check and (np.count_nonzero(conf[:, L:255]) or (W > L and np.count_nonzero(conf[:, :, L:]))):
            raise self._range_error(L)
        return conf

    def _confusion_torch(self, pred, target, L: int, check: bool) -> torch.Tensor:
        """The same on the tensors' device, with no host sync when ``check`` is False."""
        pred = torch.as_tensor(pred)
        target = torch.as_tensor(target, device=pred.device)
        if pred.dim() == 2:
            pred, target = pred[None], target[None]
        Q = pred.shape[0]
        pred, target = pred.long(), target.long()
        if check:
            bad = (pred < 0) | (pred >= L) | (((target < 0) | (target >= L)) & (target != 255))
            if bool(bad.any()):
                raise self._range_error(L)
        index = (target + torch.arange(Q, device=pred.device).view(Q, 1, 1) * _ROWS) * L + pred
        # scatter_add into a fixed size: torch.bincount would read the maximum back to the host
        counts = torch.zeros(Q * _ROWS * L, dtype=torch.long, device=pred.device)
        counts.scatter_add_(0, index.flatten(), torch.ones_like(index.flatten()))
        return counts.view(Q, _ROWS, L)

    def _add(self, conf, ids: list[int], L: int) -> None:
        """Add the TP, FP, FN of each label of ``conf [Q, >=L target values, >=L pred labels]``
        to its class's slot (0 for background). A label absent from a query's ground truth is
        not counted there (its TP and FN are 0, its FP dropped)."""
        slots = [0] + ids
        if isinstance(conf, np.ndarray):
            # a few cells: plain Python on one .tolist() costs less than a dozen tiny numpy calls
            tp, fp, fn = [0] * L, [0] * L, [0] * L
            for cq in conf[:, :L, :L].tolist():  # [target][pred]
                for j in range(L):
                    row = cq[j]
                    target_count = sum(row)
                    if target_count:
                        d = row[j]
                        tp[j] += d
                        fn[j] += target_count - d
                        fp[j] += sum(r[j] for r in cq) - d
            if self._acc is None:
                self._acc = np.zeros((3, self.n_classes + 1))
            if isinstance(self._acc, np.ndarray):
                acc = self._acc
                for j, c in enumerate(slots):  # a class given twice gets both
                    acc[0, c] += tp[j]
                    acc[1, c] += fp[j]
                    acc[2, c] += fn[j]
                self.n_records += conf.shape[0]
                return
            parts = torch.tensor([tp, fp, fn], dtype=torch.float64, device=self._acc.device)
        else:
            conf = conf[:, :L, :L]  # [Q, target, pred]: the 255 row (and the empty ones) dropped
            tp = conf.diagonal(dim1=1, dim2=2)
            target_count = conf.sum(2)
            parts = (torch.stack([tp, conf.sum(1) - tp, target_count - tp]) * (target_count > 0)).sum(1)
            if self._acc is None or isinstance(self._acc, np.ndarray):
                start = np.zeros((3, self.n_classes + 1)) if self._acc is None else self._acc
                self._acc = torch.tensor(start, dtype=torch.float64, device=conf.device)
        self._acc.index_add_(1, torch.tensor(slots, device=self._acc.device), parts.to(self._acc))
        self.n_records += conf.shape[0]

    @property
    def tp(self) -> torch.Tensor | None:
        """TP summed per global id, float64 ``[n_classes + 1]`` (None before a record); so ``fp``, ``fn``."""
        return self._sum(0)

    @property
    def fp(self) -> torch.Tensor | None:
        return self._sum(1)

    @property
    def fn(self) -> torch.Tensor | None:
        return self._sum(2)

    def _sum(self, i: int):
        if self._acc is None:
            return None
        return torch.from_numpy(self._acc[i]) if isinstance(self._acc, np.ndarray) else self._acc[i]

    def _sums(self):
        if self._acc is None:
            raise ValueError("nothing recorded yet")
        acc = self._acc.cpu().numpy() if isinstance(self._acc, torch.Tensor) else self._acc
        return acc[0], acc[1], acc[2]

    def class_iou(self, class_ids) -> np.ndarray:
        """IoU of each listed global id (NaN for a class never seen in the ground truth)."""
        tp, fp, fn = self._sums()
        ids = np.asarray(list(class_ids), dtype=int)
        with np.errstate(invalid="ignore", divide="ignore"):
            return tp[ids] / (tp[ids] + fp[ids] + fn[ids])

    def seen(self, class_ids) -> list[int]:
        """The listed global ids that appeared in the ground truth of some record."""
        return [c for c, v in zip(class_ids, self.class_iou(class_ids)) if not np.isnan(v)]

    def mean_iou(self, class_ids) -> tuple[list[float], float]:
        """(IoU per class in the order of ``class_ids``, NaN for an unseen class; the mean over
        the *seen* classes). The rule, and how it differs from the official code: class docstring.
        No listed class seen -> ValueError."""
        iou = self.class_iou(class_ids)
        seen = iou[~np.isnan(iou)]
        if seen.size == 0:
            raise ValueError(f"no class of {list(class_ids)} appeared in the ground truth of the "
                             f"{self.n_records} recorded queries: mean-IoU is undefined")
        return iou.tolist(), float(seen.mean())

    def binary_iou(self) -> tuple[list[float], float]:
        """([background IoU, foreground IoU], their mean) — FB-IoU as the official code."""
        tp, fp, fn = self._sums()
        t, f, n = np.array([tp[0], tp[1:].sum()]), np.array([fp[0], fp[1:].sum()]), np.array([fn[0], fn[1:].sum()])
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = t / (t + f + n)
        return iou.tolist(), float(iou.mean())
