"""Images with masks: episodes, predictions, feature maps, similarity maps, prototype projections.

Every function takes numpy arrays or torch tensors and returns a matplotlib Figure, so a chapter
ends a plotting cell with ``plt.show()`` and a test can inspect the figure. Colours are fixed
(``PALETTE``): episode label j (way j, 1..N) is always drawn in ``PALETTE[j]``, the background
prototype's colour is ``BG_COLOR`` and the 255 "ignore" pixels are grey, in every chapter.

Also here: MSRC-v2 photos with their label maps in the dataset's own legend
(``msrc_colour_map``, ``add_msrc_legend``, ``show_msrc_photos``), episodes drawn with outlines
(``plot_episode``, ``plot_episode_rows``) and excerpts of the package's own source
(``source_text``, ``show_source``).
"""
from __future__ import annotations

import ast
import inspect
import textwrap

import numpy as np
import torch

from ..data.msrc import MSRC_LEGEND
from . import style

# Episode label j -> colour; 0 (background) is never painted on a label overlay.
PALETTE = np.array([
    [0.00, 0.00, 0.00], [0.90, 0.10, 0.10], [0.10, 0.75, 0.20], [0.15, 0.40, 0.95],
    [1.00, 0.75, 0.00], [0.75, 0.20, 0.85], [0.00, 0.80, 0.80], [1.00, 0.50, 0.10],
    [0.55, 0.35, 0.15], [1.00, 0.45, 0.70], [0.50, 0.50, 0.00], [0.00, 0.45, 0.45],
])
BG_COLOR = np.array([0.20, 0.55, 1.00])      # support background masks
IGNORE_COLOR = np.array([0.55, 0.55, 0.55])  # label 255


def _np(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def to_image(image) -> np.ndarray:
    """Any image -> float RGB ``[H, W, 3]`` in [0, 1] for ``imshow``.

    Accepts uint8 ``[H, W, 3]`` (a source's ``.image``), float ``[H, W, 3]`` in [0, 1], or a
    normalised tensor ``[3, H, W]`` (an episode's images; the ImageNet normalisation is undone).
    """
    if isinstance(image, torch.Tensor) and image.ndim == 3 and image.shape[0] == 3:
        from ..data.transforms import denormalize
        return denormalize(image.detach().float().cpu()).permute(1, 2, 0).numpy()
    arr = _np(image)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise ValueError(f"expected an RGB image [H,W,3] or a tensor [3,H,W], got shape {arr.shape}")
    return arr.astype(np.float64) / 255.0 if arr.dtype == np.uint8 else np.clip(arr, 0.0, 1.0)


def label_color(j: int) -> np.ndarray:
    """Colour of episode label ``j`` (1..N; wraps after 11; 255 -> grey)."""
    return IGNORE_COLOR if j == 255 else PALETTE[1 + (int(j) - 1) % (len(PALETTE) - 1)]


def overlay_mask(image, mask, color=None, alpha: float = 0.5) -> np.ndarray:
    """Blend a binary ``mask [H, W]`` in ``color`` (default ``PALETTE[1]``) over ``image``: -> ``[H, W, 3]``."""
    out = to_image(image).copy()
    m = _np(mask).astype(bool)
    if m.shape != out.shape[:2]:
        raise ValueError(f"mask {m.shape} does not match image {out.shape[:2]}")
    c = PALETTE[1] if color is None else np.asarray(color, dtype=np.float64)
    out[m] = (1 - alpha) * out[m] + alpha * c
    return out


def overlay_labels(image, labels, alpha: float = 0.55) -> np.ndarray:
    """Blend an episode label map ``[H, W]`` (0 background, 1..N ways, 255 ignore) over ``image``."""
    out = to_image(image).copy()
    lab = _np(labels).astype(np.int64)
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
    ids = [int(c) for c in _np(pick(episode["class_ids"]))]
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
    pred = None if prediction is None else _np(prediction)
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
    f = _np(features).astype(np.float64)
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
    m = torch.as_tensor(_np(maps), dtype=torch.float32)
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
    f = _np(features).astype(np.float64)
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
    x = _np(vectors).astype(np.float64)
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
    labels = [int(v) for v in _np(labels)]
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


# ---------------------------------------------------------------------------------------------
# MSRC-v2 photos and label maps in the dataset's own colours

MSRC_VOID = "void (ignored)"


def msrc_colour_map(label) -> np.ndarray:
    """An MSRC-v2 label map ``[H, W]`` (ids 1..23 as in ``MSRC_LEGEND``, 255 void) -> uint8
    RGB ``[H, W, 3]`` in the legend's colours; void (and 0, which MSRC does not use) is black.

    Any other id, or a map that is not 2-D -> ValueError.
    """
    lab = _np(label)
    if lab.ndim != 2:
        raise ValueError(f"an MSRC label map is [H, W], got shape {lab.shape}")
    lab = lab.astype(np.int64)
    bad = np.setdiff1d(np.unique(lab), [0, 255, *range(1, len(MSRC_LEGEND) + 1)])
    if bad.size:
        raise ValueError(f"label ids {bad.tolist()} are not MSRC-v2 ids (1..{len(MSRC_LEGEND)}, "
                         "255 void)")
    palette = np.zeros((256, 3), np.uint8)
    palette[1:len(MSRC_LEGEND) + 1] = [rgb for _, rgb in MSRC_LEGEND]
    return palette[lab]


def _patch(colour):
    import matplotlib.pyplot as plt
    return plt.Rectangle((0, 0), 1, 1, color=colour)


def add_msrc_legend(fig, labels, void: bool = True, ncol: int | None = None):
    """A legend below ``fig`` for the MSRC-v2 classes present in ``labels``.

    ``labels``: one label map ``[H, W]`` or a sequence of them (ids as in
    :func:`msrc_colour_map`); one entry per class present, in id order, and a black
    ``"void (ignored)"`` entry if ``void``. ``ncol``: entries per row (default: all in one
    row up to 6, else 5). ``fig`` should use a layout engine (``style.figure`` does): the
    legend goes ``outside lower center``. Returns the matplotlib ``Legend``.
    """
    maps = [labels] if _np(labels).ndim == 2 else list(labels)
    present = set()
    for lab in maps:
        msrc_colour_map(lab)  # checks the ids
        present |= set(np.unique(_np(lab)).tolist()) - {0, 255}
    ids = sorted(present)
    handles = [_patch(np.array(MSRC_LEGEND[c - 1][1]) / 255) for c in ids]
    texts = [MSRC_LEGEND[c - 1][0] for c in ids]
    if void:
        handles.append(_patch((0, 0, 0)))
        texts.append(MSRC_VOID)
    if not texts:
        raise ValueError("no class in the label maps and void=False: nothing to put in a legend")
    ncol = ncol or (len(texts) if len(texts) <= 6 else 5)
    return fig.legend(handles, texts, loc="outside lower center", ncol=ncol, frameon=False)


def show_msrc_photos(photos, labels, titles=None, msrc: bool = True):
    """Photos in the first row, their label maps below, a legend of the classes shown.

    ``photos``: uint8 RGB ``[H, W, 3]`` each (a source's ``.image(id)``); ``labels``: one label
    map ``[H, W]`` per photo (``.label(id)``); ``titles``: one per photo (e.g. the image ids).
    ``msrc``: label maps in the MSRC-v2 legend's colours with :func:`add_msrc_legend`; False
    for another dataset: its label ids drawn with a colour map, no legend. Panels keep the
    first photo's aspect; the Figure is ``style.WIDTH`` wide, with ``2 * len(photos)`` axes.
    """
    photos, labels = list(photos), list(labels)
    if not photos or len(photos) != len(labels):
        raise ValueError(f"need one label map per photo, got {len(photos)} photos and "
                         f"{len(labels)} label maps")
    if titles is not None and len(titles) != len(photos):
        raise ValueError(f"need one title per photo, got {len(titles)} for {len(photos)}")
    for photo, lab in zip(photos, labels):
        if _np(photo).shape[:2] != _np(lab).shape:
            raise ValueError(f"photo {_np(photo).shape} and label map {_np(lab).shape} differ")
    h, w = _np(photos[0]).shape[:2]
    fig, axes = style.figure(2, len(photos), panel_aspect=h / w, extra_height=0.7)
    for col, (photo, lab) in enumerate(zip(photos, labels)):
        axes[0, col].imshow(to_image(photo))
        if titles is not None:
            axes[0, col].set_title(str(titles[col]))
        axes[1, col].imshow(msrc_colour_map(lab) if msrc else _np(lab), interpolation="nearest")
    for ax in axes.flat:
        ax.set_axis_off()
    if msrc:
        add_msrc_legend(fig, labels)
    return fig


# ---------------------------------------------------------------------------------------------
# Episodes with outlines: each way's foreground tinted and outlined in the way's colour

NEITHER = "neither / ignored"
_EPISODE_KEYS = ("support_images", "support_fg", "support_bg", "query_images", "query_labels",
                 "class_ids")


def _check_episode(episode) -> tuple[int, int, int]:
    """(N, K, Q) of one episode of ``EpisodeDataset``; a batch or a wrong dict -> ValueError."""
    if not isinstance(episode, dict) or any(k not in episode for k in _EPISODE_KEYS):
        have = sorted(episode) if isinstance(episode, dict) else type(episode).__name__
        raise ValueError(f"an episode is a dict of EpisodeDataset with {', '.join(_EPISODE_KEYS)}; "
                         f"got {have}")
    imgs = episode["support_images"]
    if imgs.ndim != 5:
        raise ValueError(f"support_images must be [N, K, 3, S, S] (one episode, not a batch), got "
                         f"{tuple(imgs.shape)}")
    return imgs.shape[0], imgs.shape[1], episode["query_images"].shape[0]


def _photo_aspect(source, image_id) -> float:
    if source is None or image_id is None:
        return 1.0
    h, w = source.image(image_id).shape[:2]
    return h / w


def _draw_outlined(ax, image, masks, aspect: float = 1.0) -> None:
    """``image`` (``[3, S, S]`` tensor or ``[H, W, 3]``) with (``mask [S, S]``, colour) pairs
    tinted at 50 %; every mask but the grey (ignored) ones is outlined in its colour too."""
    out = to_image(image).copy()
    masks = [(_np(m).astype(bool), np.asarray(c, dtype=np.float64)) for m, c in masks]
    for m, c in masks:
        out[m] = 0.5 * out[m] + 0.5 * c
    ax.imshow(out, aspect=aspect)
    for m, c in masks:
        if not np.array_equal(c, IGNORE_COLOR) and m.any():
            ax.contour(m.astype(float), levels=[0.5], colors=[tuple(c)], linewidths=1.2)
    ax.set_axis_off()


def _support_masks(episode, n, k):
    fg, bg = episode["support_fg"][n, k], episode["support_bg"][n, k]
    neither = (_np(fg) + _np(bg)) == 0
    return [(fg, label_color(n + 1)), (neither, IGNORE_COLOR)]


def _query_masks(episode, q, ways):
    lab = _np(episode["query_labels"][q])
    return [(lab == n, label_color(n)) for n in range(1, ways + 1)] + [(lab == 255, IGNORE_COLOR)]


def _ids(episode, key, n):
    ids = episode.get(key)
    return [None] * n if ids is None else list(ids)


def _class_name(class_names, c: int) -> str:
    return class_names[c - 1] if class_names is not None else f"class {c}"


def _episode_legend(fig, texts):
    handles = [_patch(label_color(n + 1)) for n in range(len(texts))] + [_patch(IGNORE_COLOR)]
    return fig.legend(handles, list(texts) + [NEITHER], loc="outside lower center",
                      ncol=len(texts) + 1, frameon=False)


def plot_episode(episode: dict, class_names=None, source=None):
    """One N-way K-shot episode: a row of K supports per way, then a row of the Q queries.

    ``episode``: one item of ``EpisodeDataset`` (``support_images [N, K, 3, S, S]``,
    ``support_fg/bg [N, K, S, S]``, ``query_images [Q, 3, S, S]``, ``query_labels [Q, S, S]``
    with 0..N and 255, ``class_ids [N]``). Way n's foreground is tinted and outlined in
    ``label_color(n)``; grey marks pixels that are neither fg nor bg (supports) or void
    (queries). ``class_names``: names of the global ids (``class_names[c - 1]``); ``source``:
    the episode's source, to stretch each image back to its photo's aspect (None: square).
    A Figure with ``(N + 1) * max(K, Q)`` axes and a legend of N + 1 entries.
    """
    N, K, Q = _check_episode(episode)
    s_ids = episode.get("support_ids") or [[None] * K for _ in range(N)]
    q_ids = _ids(episode, "query_ids", Q)
    aspects = {(n, k): _photo_aspect(source, s_ids[n][k]) for n in range(N) for k in range(K)}
    aspects.update({("q", q): _photo_aspect(source, q_ids[q]) for q in range(Q)})
    fig, axes = style.figure(N + 1, max(K, Q), panel_aspect=float(np.median(list(aspects.values()))),
                             extra_height=0.4)
    for ax in axes.flat:
        ax.set_axis_off()
    for n in range(N):
        for k in range(K):
            _draw_outlined(axes[n, k], episode["support_images"][n, k], _support_masks(episode, n, k),
                           aspects[(n, k)])
            axes[n, k].set_title(f"support: way {n + 1}, shot {k + 1}")
    for q in range(Q):
        _draw_outlined(axes[N, q], episode["query_images"][q], _query_masks(episode, q, N),
                       aspects[("q", q)])
        axes[N, q].set_title(f"query {q + 1}: ground truth")
    ids = [int(c) for c in _np(episode["class_ids"])]
    _episode_legend(fig, [f"way {n + 1}: {_class_name(class_names, c)}" for n, c in enumerate(ids)])
    return fig


def plot_episode_rows(episodes, class_names=None, source=None, labels=None):
    """Several 1-way episodes, one per row: its K supports, then its Q queries.

    ``episodes``: items of ``EpisodeDataset`` with N = 1 and the same K and Q (shapes as in
    :func:`plot_episode`); ``labels``: what to call each (default 0, 1, ...; e.g. the episode
    indices), shown as ``"episode {label}, support: {class}"``. A Figure with
    ``len(episodes) * (K + Q)`` axes and a legend of 2 entries (the way, neither / ignored).
    """
    episodes = list(episodes)
    if not episodes:
        raise ValueError("no episode to draw")
    shapes = {_check_episode(ep) for ep in episodes}
    if len(shapes) != 1 or next(iter(shapes))[0] != 1:
        raise ValueError(f"plot_episode_rows draws 1-way episodes of one shape (N, K, Q); got "
                         f"{sorted(shapes)}: use plot_episode for an N-way episode")
    _, K, Q = shapes.pop()
    labels = list(range(len(episodes))) if labels is None else list(labels)
    if len(labels) != len(episodes):
        raise ValueError(f"need one label per episode, got {len(labels)} for {len(episodes)}")
    rows = []
    for ep in episodes:
        s_ids = (ep.get("support_ids") or [[None] * K])[0]
        rows.append(([_photo_aspect(source, i) for i in s_ids],
                     [_photo_aspect(source, i) for i in _ids(ep, "query_ids", Q)]))
    every = [a for s, q in rows for a in s + q]
    fig, axes = style.figure(len(episodes), K + Q, panel_aspect=float(np.median(every)),
                             extra_height=0.4)
    for row, ep, label, (s_asp, q_asp) in zip(axes, episodes, labels, rows):
        name = _class_name(class_names, int(_np(ep["class_ids"])[0]))
        for k in range(K):
            _draw_outlined(row[k], ep["support_images"][0, k], _support_masks(ep, 0, k), s_asp[k])
            row[k].set_title(f"episode {label}, support: {name}" if K == 1
                             else f"episode {label}, shot {k + 1}: {name}")
        for q in range(Q):
            _draw_outlined(row[K + q], ep["query_images"][q], _query_masks(ep, q, 1), q_asp[q])
            row[K + q].set_title(f"query {q + 1}: ground truth")
    _episode_legend(fig, ["way 1 (the episode's class)"])
    return fig


# ---------------------------------------------------------------------------------------------
# Excerpts of the package's source

def _depths(text):
    """Bracket depth and innermost open-bracket column at each character of one line."""
    stack, quote, out = [], None, []
    for i, ch in enumerate(text):
        inner = stack[-1] + 1 if stack and stack[-1] >= 0 else None
        anyb = (abs(stack[-1] + 2) + 1 if stack[-1] < 0 else stack[-1] + 1) if stack else None
        out.append((len(stack), inner, anyb))
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            sub = ch == "[" and i and (text[i - 1].isalnum() or text[i - 1] in "_)]")
            stack.append(-i - 2 if sub else i)
        elif ch in ")]}" and stack:
            stack.pop()
    return out


def wrap_code_line(line: str, width: int) -> list[str]:
    """One line of Python -> lines of at most ``width`` characters where it can.

    Breaks after the outermost ", " inside brackets and aligns the rest on the bracket
    (a call's arguments before a subscript's); a trailing comment goes on a line of its own
    above; a long string literal is shortened with "...". A line that cannot be broken is
    returned as it is.
    """
    indent = line[:len(line) - len(line.lstrip())]
    if len(line) <= width:
        return [line]
    if line.lstrip().startswith("#"):
        return textwrap.wrap(line.lstrip()[1:].strip(), width - len(indent) - 2,
                             initial_indent=indent + "# ", subsequent_indent=indent + "# ")
    code, sep, comment = line.partition("  # ")
    if sep:
        return wrap_code_line(indent + "# " + comment, width) + wrap_code_line(code.rstrip(), width)
    depth = _depths(line)
    vis = list(range(len(line)))  # visual column of each character
    out, start, ind = [], 0, 0
    while ind + len(line) - start > width:
        room = start + width - ind
        span = range(start + 1, min(room, len(line)))
        key = 1
        cuts = [i for i in span if line[i:i + 2] == ", " and depth[i][1]]
        if not cuts:
            key = 2
            cuts = [i for i in span if line[i:i + 2] == ", " and depth[i][2]]
        if not cuts:
            break
        least = min(depth[i][0] for i in cuts)
        cut = max(i for i in cuts if depth[i][0] == least)
        out.append(" " * ind + line[start:cut + 1])
        start, ind = cut + 2, vis[depth[cut][key]]
        for j in range(start, len(line)):
            vis[j] = ind + j - start
    last = " " * ind + line[start:]
    q = last.find('"')
    if len(last) > width and q > 0 and last.rfind('"') > q:
        tail = last[last.rfind('"'):]
        last = last[:max(q + 1, width - len(tail) - 3)] + "..." + tail
    return out + [last]


def _docstring_span(src: str) -> tuple[int, int] | None:
    """0-based (first, last) line of the docstring of the def/class/module in ``src``."""
    tree = ast.parse(src)
    node = tree.body[0] if tree.body and isinstance(
        tree.body[0], (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else tree
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[0].lineno - 1, body[0].end_lineno - 1
    return None


def _find(lines, marker, start, what, obj, skip=range(0)) -> int:
    if isinstance(marker, int):
        if not 1 <= marker <= len(lines):
            raise ValueError(f"{what} line {marker} is outside the source of {_qualname(obj)} "
                             f"(1..{len(lines)})")
        return marker - 1
    for i in range(start, len(lines)):
        if i not in skip and marker in lines[i]:
            return i
    raise ValueError(f"no line containing {marker!r} in the source of {_qualname(obj)}"
                     + (f" after line {start + 1}" if start else ""))


def _qualname(obj) -> str:
    return getattr(obj, "__qualname__", getattr(obj, "__name__", repr(obj)))


def source_text(obj, lines=None, docstring: bool = True, comments: bool = True,
                width: int | None = None) -> str:
    """The source of ``obj`` (a function, method, class or module), or excerpts of it, as text.

    ``lines``: None for all of it; a pair ``(first, last)``, or a list of pairs, each bound a
    line number (1 = the ``def`` line) or a string: the first line containing it (``last``:
    the first one at or after ``first``). Bounds are included; each excerpt is dedented, and
    excerpts are joined by a ``...`` line. ``docstring=False`` leaves the docstring out (and
    string bounds are not looked for in it),
    ``comments=False`` trailing ``  # ...`` comments; ``width`` wraps longer lines
    (:func:`wrap_code_line`). A bound that matches nothing -> ValueError naming it.
    """
    src = textwrap.dedent(inspect.getsource(obj))
    all_lines = src.splitlines()
    if isinstance(lines, str):
        raise ValueError(f"lines must be a pair (first, last) or a list of pairs, got {lines!r}")
    if lines is None:
        ranges = [(1, len(all_lines))]
    elif len(lines) == 2 and all(isinstance(b, (int, str)) for b in lines):
        ranges = [tuple(lines)]
    else:
        ranges = [tuple(r) for r in lines]
        if not ranges or any(len(r) != 2 for r in ranges):
            raise ValueError(f"lines must be a pair (first, last) or a list of pairs, got {lines!r}")
    span = _docstring_span(src) if not docstring else None
    skip = range(0) if span is None else range(span[0], span[1] + 1)
    parts = []
    for first, last in ranges:
        i = _find(all_lines, first, 0, "first", obj, skip)
        j = _find(all_lines, last, i, "last", obj, skip)
        if j < i:
            raise ValueError(f"lines ({first!r}, {last!r}): the last comes before the first")
        block = [line for n, line in enumerate(all_lines[i:j + 1], start=i) if n not in skip]
        block = textwrap.dedent("\n".join(block)).splitlines()
        if not comments:
            block = [line.split("  # ")[0].rstrip() if line.strip() and not line.lstrip().startswith("#")
                     else line for line in block]
        if width is not None:
            block = [w for line in block for w in wrap_code_line(line, width)]
        parts.append("\n".join(block))
    return "\n...\n".join(parts)


def show_source(obj, lines=None, docstring: bool = True, comments: bool = True,
                width: int | None = None):
    """:func:`source_text` of ``obj`` as an IPython ``Code`` display (Python highlighting).

    ``show_source(f)``: all of ``f``; ``show_source(f, docstring=False, width=76)``: its code,
    wrapped for the page; ``show_source(f, ("q_loss =", "loss ="))``: the lines between two
    markers; ``show_source(f, [(a, b), (c, d)])``: two excerpts with ``...`` between.
    """
    from IPython.display import Code
    return Code(source_text(obj, lines, docstring=docstring, comments=comments, width=width),
                language="python")
