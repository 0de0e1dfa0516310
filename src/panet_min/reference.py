"""The original code, restated loop by loop: the reference every check compares with.

A literal re-statement of the official PANet forward pass, PAR loss and metric
(kaixin96/PANet, models/fewshot.py and util/metric.py): per episode, per way,
per shot; features upsampled to the mask size; Python sets of pixels for the
metric. Slow and obviously correct. The model never uses it; the tests, the
benchmarks and the book's checks compare the vectorised package with it.
"""
import numpy as np
import torch
import torch.nn.functional as F


def cal_dist(fts, prototype, scaler=20.0):
    return F.cosine_similarity(fts, prototype[..., None, None], dim=1) * scaler


def get_features(fts, mask):
    fts = F.interpolate(fts, size=mask.shape[-2:], mode="bilinear", align_corners=False)
    return torch.sum(fts * mask[None, ...], dim=(2, 3)) / (mask[None, ...].sum(dim=(2, 3)) + 1e-5)


def forward(encoder, supp_imgs, fore_mask, back_mask, qry_imgs, align=True, training=True, scaler=20.0):
    """Tensors in the package's layout; returns (logits [B,Q,1+N,H,W], align loss)."""
    B, N, K = supp_imgs.shape[:3]
    img_size = supp_imgs.shape[-2:]
    align_loss = 0
    outputs = []
    for epi in range(B):
        imgs = torch.cat([supp_imgs[epi].flatten(0, 1), qry_imgs[epi]])
        fts = encoder(imgs)
        supp_fts = fts[: N * K].view(N, K, *fts.shape[1:])
        qry_fts = fts[N * K:]
        fg = [[get_features(supp_fts[w, [s]], fore_mask[epi, w, [s]]) for s in range(K)] for w in range(N)]
        bg = [[get_features(supp_fts[w, [s]], back_mask[epi, w, [s]]) for s in range(K)] for w in range(N)]
        fg_protos = [sum(way) / K for way in fg]
        bg_proto = sum([sum(way) / K for way in bg]) / N
        protos = [bg_proto] + fg_protos
        pred = torch.stack([cal_dist(qry_fts, p, scaler) for p in protos], dim=1)  # Q x (1+N) x h x w
        outputs.append(F.interpolate(pred, size=img_size, mode="bilinear", align_corners=False))
        if align and training:
            align_loss = align_loss + align_loss_fn(qry_fts, pred, supp_fts, fore_mask[epi], back_mask[epi], scaler)
    return torch.stack(outputs), align_loss / B


def align_loss_fn(qry_fts, pred, supp_fts, fore_mask, back_mask, scaler):
    n_ways, n_shots = len(fore_mask), len(fore_mask[0])
    pred_mask = pred.argmax(dim=1, keepdim=True)
    binary_masks = [pred_mask == i for i in range(1 + n_ways)]
    skip_ways = [i for i in range(n_ways) if binary_masks[i + 1].sum() == 0]
    pred_mask = torch.stack(binary_masks, dim=1).float()
    qry_protos = torch.sum(qry_fts.unsqueeze(1) * pred_mask, dim=(0, 3, 4))
    qry_protos = qry_protos / (pred_mask.sum((0, 3, 4)) + 1e-5)
    loss = 0
    for way in range(n_ways):
        if way in skip_ways:
            continue
        protos = [qry_protos[[0]], qry_protos[[way + 1]]]
        for shot in range(n_shots):
            img_fts = supp_fts[way, [shot]]
            supp_pred = torch.stack([cal_dist(img_fts, p, scaler) for p in protos], dim=1)
            supp_pred = F.interpolate(supp_pred, size=fore_mask.shape[-2:], mode="bilinear", align_corners=False)
            label = torch.full_like(fore_mask[way, shot], 255).long()
            label[fore_mask[way, shot] == 1] = 1
            label[back_mask[way, shot] == 1] = 0
            loss = loss + F.cross_entropy(supp_pred, label[None], ignore_index=255) / n_shots / n_ways
    return loss


class SetMetric:
    """The official Metric for one run: sets of pixel coordinates."""

    def __init__(self, max_label=20):
        self.labels = list(range(max_label + 1))
        self.tp, self.fp, self.fn = [], [], []

    def record(self, pred, target, labels):
        tp = np.full(len(self.labels), np.nan)
        fp, fn = tp.copy(), tp.copy()
        for j, label in enumerate([0] + list(labels)):
            idx = np.where(np.logical_and(pred == j, target != 255))
            pred_j = set(zip(idx[0].tolist(), idx[1].tolist()))
            idx = np.where(target == j)
            target_j = set(zip(idx[0].tolist(), idx[1].tolist()))
            if target_j:
                tp[label] = len(pred_j & target_j)
                fp[label] = len(pred_j - target_j)
                fn[label] = len(target_j - pred_j)
        self.tp.append(tp)
        self.fp.append(fp)
        self.fn.append(fn)

    def sums(self):
        """TP, FP, FN per label (index 0 = background), summed over the records."""
        return tuple(np.nansum(np.vstack(x), axis=0) for x in (self.tp, self.fp, self.fn))

    def miou(self, labels):
        tp, fp, fn = (np.nansum(np.vstack(x), axis=0).take(labels) for x in (self.tp, self.fp, self.fn))
        iou = tp / (tp + fp + fn)
        return iou, iou.mean()

    def binary(self):
        tp, fp, fn = (np.nansum(np.vstack(x), axis=0) for x in (self.tp, self.fp, self.fn))
        tp, fp, fn = (np.array([x[0], np.nansum(x[1:])]) for x in (tp, fp, fn))
        iou = tp / (tp + fp + fn)
        return iou, iou.mean()
