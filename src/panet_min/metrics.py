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
a count of ``target * L + pred`` per query (L = 1+N labels) gives the confusion
matrix, and TP/FP/FN are its diagonal and margins.
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

# dtypes counted as they come; any other is converted to int64 first (a float prediction
# truncated, as ``astype(int)`` would)
_AS_IS = (torch.int64, torch.uint8, torch.bool)


def _tensor(x) -> torch.Tensor:
    """A tensor sharing ``x``'s memory where it can (a CPU tensor, a writable numpy array);
    ``x`` is never written to."""
    if isinstance(x, torch.Tensor):
        return x.detach() if x.requires_grad else x
    x = np.asarray(x)
    if not x.flags.writeable:  # torch warns on read-only memory; a copy costs one pass
        x = x.copy()
    return torch.from_numpy(x)


def _ids(class_ids) -> list[int]:
    return [int(c) for c in (class_ids.tolist() if hasattr(class_ids, "tolist") else class_ids)]


class FewShotMeter:
    """Accumulates TP/FP/FN per global class id (index 0 = background) for one run.

    ``n_classes``: number of object classes of the dataset (20 for PASCAL).
    Accepts numpy arrays, lists or torch tensors. CPU inputs are counted in place (no copy,
    buffers reused between calls) and summed in numpy; CUDA tensors are counted on their
    device and the sums stay there until a result is asked for, so recording adds no host
    sync (with ``check=False``).

    **The mean-IoU rule** (:meth:`mean_iou`): the mean of IoU_c over the asked classes
    (a fold's test classes) *that appeared in the ground truth of at least one record*; a
    class never seen has no IoU (NaN in :meth:`class_iou`) and is left out of the mean, so the
    reported mean-IoU is never NaN. When no asked class was seen, :meth:`mean_iou` raises.
    The official ``Metric.get_mIoU`` averages over all the fold's classes: an unseen class
    gives 0/0 = NaN there and makes the whole mean NaN. The two agree whenever every test
    class appears in a run (always with the protocol's 1000 episodes; the difference shows
    only in short runs, which ``evaluate`` records in ``unseen_classes``).
    """

    def __init__(self, n_classes: int = 20, per_episode: bool = False):
        self.n_classes = n_classes
        self.per_episode = per_episode
        self._index = self._ones = None  # int64 [pixels]: the confusion index, and ones to count
        self.reset()

    def reset(self) -> None:
        self._acc = None  # [3, n_classes + 1]: TP, FP, FN per global id (numpy, or a tensor on CUDA)
        self._episodes = []  # per_episode: (class ids, counts [3, 1+N]) of each record
        self.n_records = 0

    def record(self, pred, target, class_ids, check: bool = True) -> None:
        """``pred [H,W]`` or ``[Q,H,W]`` in {0..N}; ``target`` the same shape in {0..N, 255};
        ``class_ids``: the N global ids of the episode's ways, in way order.
        ``check=False`` skips the value-range checks (host syncs on a GPU) for data known valid."""
        pred, target = _tensor(pred), _tensor(target)
        if pred.shape != target.shape:
            raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
        if pred.dim() not in (2, 3):
            raise ValueError(f"pred must be [H, W] or [Q, H, W], got {tuple(pred.shape)}")
        ids = _ids(class_ids)
        if ids and (min(ids) < 1 or max(ids) > self.n_classes):
            raise ValueError(f"class ids {ids} outside 1..{self.n_classes}")
        L = len(ids) + 1
        conf = self._confusion(pred, target, L, check)
        parts = _sums_host(conf, L) if isinstance(conf, np.ndarray) else _sums_device(conf, L)
        self._add(parts, ids)
        if self.per_episode:
            self._episodes.append((ids, parts))
        self.n_records += conf.shape[0]

    def episode_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """The counts of each :meth:`record` call (``per_episode=True``): ``(class_ids [E, N] int64,
        counts [E, 3 (TP, FP, FN), 1+N] int64)``, label 0 the background. Summing them per global
        id gives this meter's totals (:func:`panet_min.stats.counts_to_iou`). Every record must have
        the same N."""
        if not self.per_episode:
            raise ValueError("FewShotMeter(per_episode=True) keeps the counts of each episode")
        if not self._episodes:
            return np.zeros((0, 0), np.int64), np.zeros((0, 3, 1), np.int64)
        ways = {len(ids) for ids, _ in self._episodes}
        if len(ways) > 1:
            raise ValueError(f"episodes with different numbers of ways {sorted(ways)}: one array cannot hold them")
        ids = np.array([ids for ids, _ in self._episodes], dtype=np.int64).reshape(len(self._episodes), -1)
        parts = [p for _, p in self._episodes]
        if isinstance(parts[0], torch.Tensor):
            counts = torch.stack(parts).round().to(torch.int64).cpu().numpy()
        else:
            counts = np.array(parts, dtype=np.int64)
        return ids, counts

    def _range_error(self, L: int) -> ValueError:
        return ValueError(f"pred must be in 0..{L - 1} and target in 0..{L - 1} or 255 for a {L - 1}-way episode")

    def _buffers(self, n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """The int64 index buffer and a buffer of ones, ``[n]`` each on ``device``, kept between calls."""
        if self._index is None or self._index.numel() < n or self._index.device != device:
            self._index = torch.empty(n, dtype=torch.int64, device=device)
            self._ones = torch.ones(n, dtype=torch.int64, device=device)
        return self._index[:n], self._ones[:n]

    def _confusion(self, pred: torch.Tensor, target: torch.Tensor, L: int, check: bool):
        """``[Q, 256, L]`` int64 counts of (target value, pred label) per query: a numpy array
        for CPU inputs, a tensor on the inputs' device otherwise.

        Per query, two passes over the pixels: ``index = target * L + pred`` into a reused
        buffer (one fused ``torch.add``), then ``scatter_add`` of ones into ``256 * L`` cells.
        The checks cost one more pass on a CPU, ``aminmax(pred)``: a target below 0 or above
        255 puts the index outside the cells, which ``scatter_add`` refuses by itself, and a
        target in N+1..254 leaves counts in rows that must be empty. On a GPU an index outside
        the cells is a device-side assert, not an error, so both inputs are checked first."""
        device = pred.device
        if target.device != device:
            target = target.to(device)
        Q = pred.shape[0] if pred.dim() == 3 else 1
        p, t = pred.reshape(-1), target.reshape(-1)  # [Q * n]
        if p.dtype not in _AS_IS:
            p = p.long()
        if t.dtype not in _AS_IS or torch.int64 not in (p.dtype, t.dtype):  # the index in int64
            t = t.long()
        on_cpu = device.type == "cpu"
        if check and p.numel():  # an empty query has nothing to check (and aminmax no identity)
            if on_cpu:
                lo, hi = torch.aminmax(p.view(torch.uint8) if p.dtype == torch.bool else p)
                bad = int(lo) < 0 or int(hi) >= L
            else:
                bad = not _device_range_ok(p, t, L)
            if bad:
                raise self._range_error(L)
        n, size = (p.numel() // Q if Q else 0), _ROWS * L
        index, ones = self._buffers(n, device)
        if on_cpu:
            conf = np.zeros(Q * size, np.int64)
            counts = torch.from_numpy(conf)
        else:
            conf = counts = torch.zeros(Q * size, dtype=torch.int64, device=device)
        p, t, counts = p.view(Q, n), t.view(Q, n), counts.view(Q, size)
        for q in range(Q):  # per query: the bounds on target must hold within a query
            torch.add(p[q], t[q], alpha=L, out=index)
            try:
                counts[q].scatter_add_(0, index, ones)
            except RuntimeError:  # an index outside the cells: a target below 0 or above 255
                raise self._range_error(L) from None
        conf = conf.reshape(Q, _ROWS, L)
        if check and on_cpu and np.count_nonzero(conf[:, L:255]):
            raise self._range_error(L)
        return conf

    def _add(self, parts, ids: list[int]) -> None:
        """Add ``parts [3 (TP, FP, FN), L labels]`` to each label's class slot (0 for background);
        a class given twice gets both. Host sums stay in numpy until a device's sums arrive."""
        slots = [0] + ids
        if isinstance(parts, list) and not isinstance(self._acc, torch.Tensor):
            if self._acc is None:
                self._acc = np.zeros((3, self.n_classes + 1))
            acc = self._acc
            for j, c in enumerate(slots):
                acc[0, c] += parts[0][j]
                acc[1, c] += parts[1][j]
                acc[2, c] += parts[2][j]
            return
        if not isinstance(self._acc, torch.Tensor):
            start = np.zeros((3, self.n_classes + 1)) if self._acc is None else self._acc
            self._acc = torch.tensor(start, dtype=torch.float64, device=parts.device)
        parts = torch.as_tensor(parts, dtype=torch.float64, device=self._acc.device)
        self._acc.index_add_(1, torch.tensor(slots, device=self._acc.device), parts)

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


def _device_range_ok(p: torch.Tensor, t: torch.Tensor, L: int) -> bool:
    """Every pred in 0..L-1 and every target in 0..L-1 or 255: one reduction, one host sync."""
    return not bool(((p < 0) | (p >= L) | (((t < 0) | (t >= L)) & (t != 255))).any())


def _sums_host(conf: np.ndarray, L: int) -> list[list[int]]:
    """TP, FP, FN of each label ``[3][L]`` from ``conf [Q, >=L target values, L pred labels]``.
    A label absent from a query's ground truth is not counted there (its TP and FN are 0,
    its FP dropped). A few cells: plain Python on one ``.tolist()`` costs less than a dozen
    tiny numpy calls."""
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
    return [tp, fp, fn]


def _sums_device(conf: torch.Tensor, L: int) -> torch.Tensor:
    """The same as :func:`_sums_host` in tensor ops, ``[3, L]`` on ``conf``'s device (no host sync)."""
    conf = conf[:, :L, :L]  # [Q, target, pred]: the 255 row (and the empty ones) dropped
    tp = conf.diagonal(dim1=1, dim2=2)
    target_count = conf.sum(2)
    return (torch.stack([tp, conf.sum(1) - tp, target_count - tp]) * (target_count > 0)).sum(1)
