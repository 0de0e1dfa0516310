"""Images with masks: episodes, predictions, feature maps, similarity maps, prototype projections.

Every function takes numpy arrays or torch tensors and returns a matplotlib Figure, so a chapter
ends a plotting cell with ``plt.show()`` and a test can inspect the figure. Colours are fixed
(``PALETTE``): episode label j (way j, 1..N) is always drawn in ``PALETTE[j]``, the background
prototype's colour is ``BG_COLOR`` and the 255 "ignore" pixels are grey, in every chapter.

MSRC-v2 photos in the dataset's own legend: :mod:`panet_min.viz.msrc`; episodes drawn with
outlines: :mod:`panet_min.viz.episodes`; excerpts of the package's source: :mod:`panet_min.viz.source`.
"""
from __future__ import annotations

import numpy as np
import torch

from . import style

# Episode label j -> colour; 0 (background) is never painted on a label overlay.
PALETTE = np.array([
    [0.00, 0.00, 0.00], [0.90, 0.10, 0.10], [0.10, 0.75, 0.20], [0.15, 0.40, 0.95],
    [1.00, 0.75, 0.00], [0.75, 0.20, 0.85], [0.00, 0.80, 0.80], [1.00, 0.50, 0.10],
    [0.55, 0.35, 0.15], [1.00, 0.45, 0.70], [0.50, 0.50, 0.00], [0.00, 0.45, 0.45],
])
BG_COLOR = np.array([0.20, 0.55, 1.00])      # support background masks
IGNORE_COLOR = np.array([0.55, 0.55, 0.55])  # label 255


def as_numpy(x) -> np.ndarray:
    """A tensor (detached, on the CPU) or anything array-like as a numpy array."""
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def to_image(image) -> np.ndarray:
    """Any image -> float RGB ``[H, W, 3]`` in [0, 1] for ``imshow``.

    Accepts uint8 ``[H, W, 3]`` (a source's ``.image``), float ``[H, W, 3]`` in [0, 1], or a
    normalised tensor ``[3, H, W]`` (an episode's images; the ImageNet normalisation is undone).
    """
    if isinstance(image, torch.Tensor) and image.ndim == 3 and image.shape[0] == 3:
        from ..data.transforms import denormalize
        return denormalize(image.detach().float().cpu()).permute(1, 2, 0).numpy()
    arr = as_numpy(image)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise ValueError(f"expected an RGB image [H,W,3] or a tensor [3,H,W], got shape {arr.shape}")
    return arr.astype(np.float64) / 255.0 if arr.dtype == np.uint8 else np.clip(arr, 0.0, 1.0)


def label_color(j: int) -> np.ndarray:
    """Colour of episode label ``j`` (1..N; wraps after 11; 255 -> grey)."""
    return IGNORE_COLOR if j == 255 else PALETTE[1 + (int(j) - 1) % (len(PALETTE) - 1)]


def legend_patch(colour):
    """A filled square of ``colour`` for a legend entry."""
    import matplotlib.pyplot as plt
    return plt.Rectangle((0, 0), 1, 1, color=colour)


def overlay_mask(image, mask, color=None, alpha: float = 0.5) -> np.ndarray:
    """Blend a binary ``mask [H, W]`` in ``color`` (default ``PALETTE[1]``) over ``image``: -> ``[H, W, 3]``."""
    out = to_image(image).copy()
    m = as_numpy(mask).astype(bool)
    if m.shape != out.shape[:2]:
        raise ValueError(f"mask {m.shape} does not match image {out.shape[:2]}")
    c = PALETTE[1] if color is None else np.asarray(color, dtype=np.float64)
    out[m] = (1 - alpha) * out[m] + alpha * c
    return out


def overlay_labels(image, labels, alpha: float = 0.55) -> np.ndarray:
    """Blend an episode label map ``[H, W]`` (0 background, 1..N ways, 255 ignore) over ``image``."""
    out = to_image(image).copy()
    lab = as_numpy(labels).astype(np.int64)
    if lab.shape != out.shape[:2]:
        raise ValueError(f"labels {lab.shape} do not match image {out.shape[:2]}")
    for j in np.unique(lab):
        if j == 0:
            continue
        m = lab == j
        out[m] = (1 - alpha) * out[m] + alpha * label_color(int(j))
    return out


def _axes(n_rows: int, n_cols: int, size: float = 2.6, figsize=None, layout="constrained", title_lines: int = 1):
    """A grid of square panels at the column's width, no ticks, constrained layout (``size`` is
    kept for callers; the column's width decides the panels' size)."""
    import matplotlib.pyplot as plt
    if figsize is None:
        figsize = (style.WIDTH, n_rows * (style.WIDTH / n_cols + 0.08 + 0.17 * title_lines) + 0.3)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=style.fit(figsize), dpi=style.DPI, squeeze=False,
                             layout=layout)
    for ax in axes.flat:
        ax.set_axis_off()
    return fig, axes


@style.drawn
def show_episode(episode: dict, prediction=None, class_names=None, index: int = 0, title: str | None = None):
    """Draw one episode: supports (fg in the way's colour, bg in blue), queries with labels (and predictions).

    ``episode``: a dict of ``EpisodeDataset`` (``support_images [N,K,3,S,S]`` ...) or a collated batch
    (then element ``index`` of the batch is drawn). ``prediction``: ``[Q, S, S]`` episode labels or
    ``None``. ``class_names``: names of the global ids (``panet_min.data.class_names(dataset)``).
    One row per way (its K supports), then one row with the Q queries (and predictions); a 1-way
    episode is drawn as a single row.
    """
    imgs = episode["support_images"]
    batched = imgs.ndim == 6
    pick = (lambda v: v[index]) if batched else (lambda v: v)
    s_img, s_fg, s_bg = pick(imgs), pick(episode["support_fg"]), pick(episode["support_bg"])
    q_img, q_lab = pick(episode["query_images"]), pick(episode["query_labels"])
    ids = [int(c) for c in as_numpy(pick(episode["class_ids"]))]
    N, K, Q = s_img.shape[0], s_img.shape[1], q_img.shape[0]
    name = (lambda c: class_names[c - 1]) if class_names is not None else (lambda c: f"class {c}")
    q_cols = Q * (2 if prediction is not None else 1)
    if N == 1:  # 1-way: supports and queries side by side
        fig, axes = _axes(1, K + q_cols, title_lines=2)
        support_ax = lambda n, k: axes[0, k]
        query_ax = lambda col: axes[0, K + col]
    else:
        fig, axes = _axes(N + 1, max(K, q_cols), title_lines=2)
        support_ax = lambda n, k: axes[n, k]
        query_ax = lambda col: axes[N, col]
    for n in range(N):
        for k in range(K):
            shown = overlay_mask(s_img[n, k], s_bg[n, k], BG_COLOR, alpha=0.35)
            shown = overlay_mask(shown, s_fg[n, k], label_color(n + 1), alpha=0.6)
            support_ax(n, k).imshow(shown)
            support_ax(n, k).set_title(f"way {n + 1}, shot {k + 1}\n{name(ids[n])}", fontsize=9)
    pred = None if prediction is None else as_numpy(prediction)
    for q in range(Q):
        col = q * (2 if pred is not None else 1)
        query_ax(col).imshow(overlay_labels(q_img[q], q_lab[q]))
        query_ax(col).set_title(f"query {q + 1}\nground truth", fontsize=9)
        if pred is not None:
            query_ax(col + 1).imshow(overlay_labels(q_img[q], pred[q]))
            query_ax(col + 1).set_title(f"query {q + 1}\nprediction", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


@style.drawn
def show_feature_channels(features, channels=None, n: int = 16, ncols: int = 8, title: str | None = None):
    """A grid of feature-map channels ``features [C, h, w]`` (each channel scaled to its own range).

    ``channels``: the indices to draw; default: the ``n`` channels with the largest mean activation.
    """
    f = as_numpy(features).astype(np.float64)
    if f.ndim != 3:
        raise ValueError(f"features must be [C, h, w], got shape {f.shape}")
    if channels is None:
        channels = np.argsort(-f.mean(axis=(1, 2)), kind="stable")[:n]
    channels = [int(c) for c in channels]
    nrows = -(-len(channels) // ncols)
    fig, axes = _axes(nrows, ncols, size=1.4)
    for ax, c in zip(axes.flat, channels):
        ax.imshow(f[c], cmap="viridis")
        ax.set_title(f"ch {c}", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


@style.drawn
def show_similarity(image, maps, names, vmin: float = -1.0, vmax: float = 1.0, cmap: str = "RdBu_r",
                    title: str | None = None, labels=None):
    """The query ``image`` (with ``labels`` if given) next to one map per prototype.

    ``maps [P, h, w]`` (cosine similarities, or probabilities with vmin=0, vmax=1) are upsampled
    bilinearly to the image size for display; ``names``: P titles.
    """
    import torch.nn.functional as F
    img = to_image(image)
    m = torch.as_tensor(as_numpy(maps), dtype=torch.float32)
    if m.ndim != 3 or len(names) != m.shape[0]:
        raise ValueError(f"maps must be [P, h, w] with P = len(names) = {len(names)}, got {tuple(m.shape)}")
    up = F.interpolate(m[None], size=img.shape[:2], mode="bilinear", align_corners=False)[0].numpy()
    fig, axes = _axes(1, 1 + len(names), size=3.0)
    axes[0, 0].imshow(img if labels is None else overlay_labels(img, labels))
    axes[0, 0].set_title("query" + (" (ground truth)" if labels is not None else ""), fontsize=9)
    for ax, u, nm in zip(axes[0, 1:], up, names):
        im = ax.imshow(u, cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_title(nm, fontsize=9)
    fig.colorbar(im, ax=list(axes[0, 1:]), fraction=0.02, pad=0.01)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def features_to_rgb(features, unit: bool = True, margin: int = 2) -> np.ndarray:
    """``features [C, h, w]`` -> ``[h, w, 3]`` in [0, 1]: the first 3 principal components as RGB.

    Positions with similar feature vectors get similar colours, so the picture shows which regions
    the encoder considers alike. ``unit``: normalise each feature vector first (the geometry the
    cosine similarity sees). The components are fitted on the positions at least ``margin`` away
    from the border (zero padding makes border features odd) and applied to all; signs fixed as in
    ``pca_2d``; each component scaled to its 1st-99th percentile.
    """
    f = as_numpy(features).astype(np.float64)
    if f.ndim != 3:
        raise ValueError(f"features must be [C, h, w], got shape {f.shape}")
    if unit:
        f = f / np.maximum(np.linalg.norm(f, axis=0, keepdims=True), 1e-12)
    c, h, w = f.shape
    inner = f[:, margin:h - margin, margin:w - margin] if min(h, w) > 2 * margin + 1 else f
    fit = inner.reshape(c, -1).T
    mean = fit.mean(axis=0, keepdims=True)
    _, _, vt = np.linalg.svd(fit - mean, full_matrices=False)
    comps = vt[:3]
    comps = comps * np.sign(comps[np.arange(len(comps)), np.abs(comps).argmax(axis=1)])[:, None]
    proj = (f.reshape(c, -1).T - mean) @ comps.T
    lo, hi = np.percentile(proj, 1, axis=0), np.percentile(proj, 99, axis=0)
    rgb = np.clip((proj - lo) / np.maximum(hi - lo, 1e-12), 0, 1)
    return np.pad(rgb, ((0, 0), (0, 3 - rgb.shape[1]))).reshape(h, w, 3)


@style.drawn
def show_feature_pca(image, features_list, titles, title: str | None = None):
    """The ``image`` next to ``features_to_rgb`` of each feature map in ``features_list`` ``[C, h, w]``."""
    fig, axes = _axes(1, 1 + len(features_list), size=3.0)
    axes[0, 0].imshow(to_image(image))
    axes[0, 0].set_title("image", fontsize=9)
    for ax, f, t in zip(axes[0, 1:], features_list, titles):
        ax.imshow(features_to_rgb(f), interpolation="nearest")
        ax.set_title(t, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def pca_2d(vectors) -> np.ndarray:
    """Project ``vectors [M, C]`` on their first two principal components -> ``[M, 2]``.

    Centre, then SVD (numpy); each component's sign is fixed so that its largest-magnitude
    coefficient is positive, which makes the picture the same on every machine.
    """
    x = as_numpy(vectors).astype(np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"pca_2d needs at least 2 vectors [M, C], got shape {x.shape}")
    x = x - x.mean(axis=0, keepdims=True)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    comps = vt[:2]
    signs = np.sign(comps[np.arange(len(comps)), np.abs(comps).argmax(axis=1)])
    proj = x @ (comps * signs[:, None]).T
    return proj if proj.shape[1] == 2 else np.pad(proj, ((0, 0), (0, 2 - proj.shape[1])))


@style.drawn
def show_prototypes_2d(vectors, labels, names=None, title: str | None = None, markers=None):
    """Scatter prototypes ``vectors [M, C]`` in 2-D (``pca_2d``), one colour per integer ``labels [M]``.

    ``names``: dict or sequence mapping a label to its legend text; ``markers [M]``: optional
    matplotlib marker per point (e.g. "o" for foreground, "x" for background prototypes).
    """
    import matplotlib.pyplot as plt
    xy = pca_2d(vectors)
    labels = [int(v) for v in as_numpy(labels)]
    fig, ax = plt.subplots(figsize=(style.WIDTH, 4.6), dpi=style.DPI, layout="constrained")
    for lab in sorted(set(labels)):
        idx = [i for i, v in enumerate(labels) if v == lab]
        text = names[lab] if names is not None else str(lab)
        for marker in sorted({(markers[i] if markers is not None else "o") for i in idx}):
            sel = [i for i in idx if (markers[i] if markers is not None else "o") == marker]
            ax.scatter(xy[sel, 0], xy[sel, 1], s=36, marker=marker, color=label_color(lab),
                       label=text if marker == "o" or markers is None else None)
    ax.set_xlabel("principal component 1")
    ax.set_ylabel("principal component 2")
    ax.legend(fontsize=9, loc="best")
    if title:
        ax.set_title(title, fontsize=10)
    return fig
