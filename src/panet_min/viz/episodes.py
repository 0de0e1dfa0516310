"""Episodes drawn for reading (chapter 1): each way's foreground tinted and outlined in the way's
colour, the supports' background and the ignored pixels told apart, a legend, and each image
shown at its photo's aspect ratio.
"""
from __future__ import annotations

import numpy as np

from . import style
from .overlays import IGNORE_COLOR, as_numpy, label_color, legend_patch, to_image

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
    masks = [(as_numpy(m).astype(bool), np.asarray(c, dtype=np.float64)) for m, c in masks]
    for m, c in masks:
        out[m] = 0.5 * out[m] + 0.5 * c
    ax.imshow(out, aspect=aspect)
    for m, c in masks:
        if not np.array_equal(c, IGNORE_COLOR) and m.any():
            ax.contour(m.astype(float), levels=[0.5], colors=[tuple(c)], linewidths=1.2)
    ax.set_axis_off()


def _support_masks(episode, n, k):
    fg, bg = episode["support_fg"][n, k], episode["support_bg"][n, k]
    neither = (as_numpy(fg) + as_numpy(bg)) == 0
    return [(fg, label_color(n + 1)), (neither, IGNORE_COLOR)]


def _query_masks(episode, q, ways):
    lab = as_numpy(episode["query_labels"][q])
    return [(lab == n, label_color(n)) for n in range(1, ways + 1)] + [(lab == 255, IGNORE_COLOR)]


def _ids(episode, key, n):
    ids = episode.get(key)
    return [None] * n if ids is None else list(ids)


def _class_name(class_names, c: int) -> str:
    return class_names[c - 1] if class_names is not None else f"class {c}"


def _episode_legend(fig, texts):
    handles = [legend_patch(label_color(n + 1)) for n in range(len(texts))] + [legend_patch(IGNORE_COLOR)]
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
    ids = [int(c) for c in as_numpy(episode["class_ids"])]
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
        name = _class_name(class_names, int(as_numpy(ep["class_ids"])[0]))
        for k in range(K):
            _draw_outlined(row[k], ep["support_images"][0, k], _support_masks(ep, 0, k), s_asp[k])
            row[k].set_title(f"episode {label}, support: {name}" if K == 1
                             else f"episode {label}, shot {k + 1}: {name}")
        for q in range(Q):
            _draw_outlined(row[K + q], ep["query_images"][q], _query_masks(ep, q, 1), q_asp[q])
            row[K + q].set_title(f"query {q + 1}: ground truth")
    _episode_legend(fig, ["way 1 (the episode's class)"])
    return fig
