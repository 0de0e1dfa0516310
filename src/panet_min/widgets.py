"""Interactive explorers for the book (ipywidgets), each with a static matplotlib fallback.

- ``episode_explorer(model, source, classes)``: pick a class, a support and a query; see the
  support mask, the cosine similarity of the query to the background and foreground prototypes,
  and the prediction. Static twin: ``episode_static(model, source, choices)``.
- ``annotation_explorer(model, source, class_id, support_id, query_id)``: switch the support
  annotation between dense mask, scribble, box and a scribble typed as points, and watch the
  prediction change. Static twin: ``annotation_static(...)``.

Every view is a 1-way 1-shot episode run through ``model`` (a ``PANet``) in eval mode. ipywidgets
is imported inside the explorers only; the static twins (what the rendered book shows) draw exactly
what the widget draws, for fixed choices.
"""
from __future__ import annotations

import weakref

import numpy as np
import torch
from scipy import ndimage

from .data.folds import class_names
from .data.transforms import resize_image, resize_mask, to_tensor_normalized
from .data.weak import bbox_support, dense_support, parse_points, polyline_mask, scribble_support
from .distributed import parameter_digest
from .feature_cache import CachedEncoder
from .metrics import FewShotMeter
from .viz.forward import draw_view_row, support_picture
from .viz.overlays import overlay_labels
from .viz import style

TITLES = {"mask": "dense mask", "scribble": "scribbles", "bbox": "bounding box", "drawn": "drawn scribble"}


def weak_support_from_label(label: np.ndarray, class_id: int, kind: str = "mask", seed: int = 0,
                            ignore: int = 255) -> tuple[np.ndarray, np.ndarray]:
    """Support masks (fg, bg), bool [H,W], of class ``class_id`` from a label map uint8 [H,W].

    kind "mask": the dense rule (``panet_min.data.weak.dense_support``): fg = the class, bg = every
    other pixel (ignore pixels included, as the original).
    kind "scribble": the scribble robot (``panet_min.data.scribbles``) on the one-vs-rest map
    (class -> object scribble, every other labelled pixel -> the background region, ignore left
    out), then the original's rule ``scribble_support``: fg = object scribble, bg = background
    scribble. kind "bbox": connected components (8-neighbours) of the class mask stand in for
    instances (no instance maps, e.g. CamVid), then ``bbox_support``. Deterministic in ``seed``.
    """
    label = np.asarray(label)
    if label.ndim != 2:
        raise ValueError(f"label must be a 2-D map [H,W], got shape {label.shape}")
    cls = label == class_id
    if not cls.any():
        raise ValueError(f"class {class_id} is not in this label map: pick a support that contains it")
    if kind == "mask":
        return dense_support(label, class_id)
    if kind == "scribble":
        from .data.scribbles import make_scribble_map

        binary = np.where(cls, 1, np.where(label == ignore, 255, 0)).astype(np.uint8)
        scribble = make_scribble_map(binary, seed=seed)
        return scribble_support(scribble, cls, np.random.default_rng(seed))
    if kind == "bbox":
        components, n = ndimage.label(cls, structure=np.ones((3, 3), bool))
        if n > 254:  # uint8 instance ids: keep the 254 largest components (ids by size rank)
            rank = np.argsort(np.argsort(-np.bincount(components.ravel())[1:], kind="stable"), kind="stable")
            components = np.r_[0, np.where(rank < 254, rank + 1, 0)][components]
        return bbox_support(components.astype(np.uint8), cls)
    raise ValueError(f"unknown support kind {kind!r}: one of 'mask', 'scribble', 'bbox' (or 'drawn' "
                     "with polyline_mask)")


def load_view(source, class_id: int, support_id: str, query_id: str, image_size: int = 241) -> dict:
    """Support and query of a 1-way 1-shot view, resized to ``image_size``.

    Returns numpy arrays: ``support_rgb``/``query_rgb`` uint8 [S,S,3], ``support_label`` uint8 [S,S]
    (global ids) and ``query_label`` int64 [S,S] (1 class, 0 other, 255 ignore), plus ``class_id``.
    """
    s_img, q_img = source.image(support_id), source.image(query_id)
    s_lab = source.label(support_id) if getattr(source, "has_labels", False) else \
        source.class_mask(support_id, class_id).astype(np.uint8) * np.uint8(class_id)
    q_cls = resize_mask(source.class_mask(query_id, class_id), image_size)
    q_ign = resize_mask(source.ignore_mask(query_id), image_size)
    query_label = np.where(q_cls, 1, np.where(q_ign, 255, 0)).astype(np.int64)
    return {"support_rgb": resize_image(s_img, image_size), "query_rgb": resize_image(q_img, image_size),
            "support_label": resize_mask(s_lab, image_size), "query_label": query_label,
            "class_id": int(class_id), "support_id": support_id, "query_id": query_id, "source": source}


def view_support(view: dict, kind: str = "mask", seed: int = 0, fg_points: str = "",
                 bg_points: str = "") -> tuple[np.ndarray, np.ndarray]:
    """(fg, bg) bool [S,S] of ``view``'s support for annotation ``kind`` (a key of ``TITLES``).

    Sources with scribble and instance maps use them (VOC layout: the files on disk, the original's
    path; MSRC: made per object from the labels, as the evaluation does); otherwise
    ``weak_support_from_label`` builds them. "drawn": fg = the polyline ``fg_points`` (as
    drawn), bg = the polyline ``bg_points`` or, if empty, the robot's background scribble.
    """
    label, c, S = view["support_label"], view["class_id"], view["support_label"].shape[0]
    src, sid = view["source"], view["support_id"]
    cls = label == c
    if kind == "scribble" and hasattr(src, "scribble"):
        return scribble_support(resize_mask(src.scribble(sid), S), cls, np.random.default_rng(seed))
    if kind == "bbox" and hasattr(src, "instances"):
        return bbox_support(resize_mask(src.instances(sid), S), cls)
    if kind == "drawn":
        fg = polyline_mask(fg_points, label.shape)
        if parse_points(bg_points):
            bg = polyline_mask(bg_points, label.shape)
        elif hasattr(src, "scribble"):  # the dataset's background scribble
            bg = resize_mask(src.scribble(sid), S) == 0
        else:
            bg = weak_support_from_label(label, c, "scribble", seed)[1]
        return fg, bg & ~fg
    return weak_support_from_label(label, c, kind, seed)


# One feature cache per model, shared by every view: features are kept per image (by its bytes) and
# dropped as soon as the model's weights change (their digest), so a model trained or loaded in place
# is never answered with the features of its old weights.
_ENCODERS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def cached_encoder(model, max_items: int = 64) -> CachedEncoder:
    """``model.encoder`` behind this module's feature cache for ``model`` (see ``CachedEncoder``);
    a new, empty cache when the encoder's weights are not those the cache was filled with."""
    digest = parameter_digest(model.encoder)
    entry = _ENCODERS.get(model)
    if entry is None or entry[0] != digest or entry[1].encoder is not model.encoder:
        entry = (digest, CachedEncoder(model.encoder, max_items=max_items))
        _ENCODERS[model] = entry
    return entry[1]


@torch.no_grad()
def run_view(model, view: dict, fg: np.ndarray, bg: np.ndarray) -> dict | None:
    """Run ``model`` (PANet, eval mode) on the view with support masks (fg, bg) bool [S,S].

    Returns {"prediction" int [S,S] (0/1), "prob_fg" float [S,S], "cos_bg"/"cos_fg" float [h,w]
    (cosine of the query features to each prototype), "iou" float} or None when fg is empty
    (no prototype can be pooled from an empty support). Each image goes through the encoder once
    per set of weights (:func:`cached_encoder`); other annotations of the same view reuse it.
    """
    if not fg.any():
        return None
    device = next(model.parameters()).device
    s = to_tensor_normalized(view["support_rgb"]).to(device)[None, None, None]
    q = to_tensor_normalized(view["query_rgb"]).to(device)[None, None]
    was_training = model.training
    replay = type(model)(cached_encoder(model), alpha=model.alpha, pooling=model.pooling).eval()
    fg_t = torch.from_numpy(fg).float().to(device)[None, None, None]
    bg_t = torch.from_numpy(bg).float().to(device)[None, None, None]
    try:
        out = replay(s, fg_t, bg_t, q)
    finally:
        model.train(was_training)  # .eval() above reached the model's own encoder
    logits = out.logits[0, 0].float().cpu()
    cos = (out.low_res_logits[0, 0].float().cpu() / model.alpha).numpy()
    pred = logits.argmax(0).numpy()
    # the foreground IoU of the one query, by the evaluation's metric (NaN: the class is not in it)
    meter = FewShotMeter(max(view["class_id"], 1))
    meter.record(pred, view["query_label"], [view["class_id"]])
    return {"prediction": pred, "prob_fg": logits.softmax(0)[1].numpy(), "cos_bg": cos[0], "cos_fg": cos[1],
            "iou": float(meter.class_iou([view["class_id"]])[0])}


def _name(source, c: int) -> str:
    try:
        return class_names(source.dataset)[c - 1]
    except (KeyError, ValueError, IndexError, AttributeError):  # a source of an unknown dataset: the id will do
        return f"class {c}"


@style.drawn
def episode_figure(model, views: list[dict], dpi: int = style.DPI):
    """Rows of [support + mask, cos to bg, cos to fg, query truth, prediction]: 5 axes per view,
    at the column's width (constrained layout); the two cosine maps of a row share one colour
    range, dark to bright, and grey on a support marks ignored pixels."""
    import matplotlib.pyplot as plt

    unit = style.WIDTH / 5
    fig, axes = plt.subplots(len(views), 5, figsize=(style.WIDTH, len(views) * (unit + 0.45) + 0.3), dpi=dpi,
                             squeeze=False, layout="constrained")
    for row, view in zip(axes, views):
        fg, bg = view_support(view, "mask")
        draw_view_row(row, view, run_view(model, view, fg, bg), fg, bg, _name(view["source"], view["class_id"]))
    fig.supxlabel("cosine maps of a row: one colour range, dark to bright; grey on a support: ignored",
                  fontsize=9)
    return fig


def episode_static(model, source, choices, image_size: int = 241, dpi: int = 100):
    """Static twin of ``episode_explorer``: ``choices`` = [(class_id, support_id, query_id), ...]
    -> a Figure with 5 axes per choice (the widget's view for each)."""
    views = [load_view(source, c, s, q, image_size) for c, s, q in choices]
    return episode_figure(model, views, dpi=dpi)


@style.drawn
def annotation_figure(model, view: dict, kinds=("mask", "scribble", "bbox"), seed: int = 0,
                      fg_points: str = "", bg_points: str = "", dpi: int = style.DPI):
    """One row per annotation kind: [support with its fg/bg, P(fg) on the query, prediction];
    3 axes per kind. Returns (Figure, {kind: IoU or None})."""
    import matplotlib.pyplot as plt

    unit = style.WIDTH / 3
    fig, axes = plt.subplots(len(kinds), 3, figsize=(style.WIDTH, len(kinds) * (unit + 0.45)), dpi=dpi,
                             squeeze=False, layout="constrained")
    ious = {}
    for row, kind in zip(axes, kinds):
        fg, bg = view_support(view, kind, seed, fg_points, bg_points)
        result = run_view(model, view, fg, bg)
        row[0].imshow(support_picture(view["support_rgb"], fg, bg))
        row[0].set_title(f"{TITLES[kind]}: fg red, bg blue\n{int(fg.sum())} fg / {int(bg.sum())} bg px", fontsize=9)
        if result is None:
            ious[kind] = None
            row[1].text(0.5, 0.5, "no foreground\nannotation", ha="center", va="center", fontsize=9)
        else:
            ious[kind] = result["iou"]
            row[1].imshow(result["prob_fg"], cmap="magma", vmin=0, vmax=1)
            row[1].set_title("query: P(foreground)", fontsize=9)
            row[2].imshow(overlay_labels(view["query_rgb"], result["prediction"]))
            row[2].contour(view["query_label"] == 1, levels=[0.5], colors="white", linewidths=0.7)
            row[2].set_title(f"prediction (white: truth)\nIoU {result['iou']:.3f}", fontsize=9)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
    return fig, ious


def annotation_static(model, source, class_id: int, support_id: str, query_id: str, image_size: int = 241,
                      kinds=("mask", "scribble", "bbox"), seed: int = 0, fg_points: str = "",
                      bg_points: str = "", dpi: int = 100):
    """Static twin of ``annotation_explorer``: the same support annotated each way in ``kinds``,
    and the prediction each gives on the same query. Returns a Figure with 3 axes per kind."""
    view = load_view(source, class_id, support_id, query_id, image_size)
    return annotation_figure(model, view, kinds, seed, fg_points, bg_points, dpi)[0]


@style.drawn
def supports_static(source, choices, kinds=("mask", "scribble", "bbox"), image_size: int = 241, seed: int = 0,
                    dpi: int = style.DPI):
    """The same supports annotated each way, no model: ``choices`` = [(class_id, support_id), ...]
    -> a Figure with one row per choice and one axis per kind (fg red, bg annotation light blue)."""
    import matplotlib.pyplot as plt

    unit = style.WIDTH / len(kinds)
    fig, axes = plt.subplots(len(choices), len(kinds), figsize=(style.WIDTH, len(choices) * (unit + 0.45)),
                             dpi=dpi, squeeze=False, layout="constrained")
    for row, (c, sid) in zip(axes, choices):
        view = load_view(source, c, sid, sid, image_size)
        for ax, kind in zip(row, kinds):
            fg, bg = view_support(view, kind, seed)
            ax.imshow(support_picture(view["support_rgb"], fg, bg))
            ax.set_title(f"{_name(source, c)}: {TITLES[kind]}\n{int(fg.sum())} fg / {int(bg.sum())} bg px",
                         fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    return fig


def _show_in(output, fig) -> None:
    import matplotlib.pyplot as plt
    from IPython.display import display

    output.clear_output(wait=True)
    with output:
        display(fig)
    plt.close(fig)


def episode_explorer(model, source, classes, image_size: int = 241, n_images: int = 25, seed: int = 0):
    """An ipywidgets explorer: dropdowns for the class (from ``classes``, global ids), the support and
    the query (``n_images`` images of the class's list, shuffled by ``seed``); shows the view of
    ``episode_static`` for the choice. Returns the widget (display it, or end a cell with it)."""
    import ipywidgets as w

    rng = np.random.default_rng(seed)

    def images_of(c):
        ids = list(source.class_list(c))
        return [ids[i] for i in sorted(rng.permutation(len(ids))[:n_images])]

    cls = w.Dropdown(options=[(f"{c} {_name(source, c)}", c) for c in classes], description="class")
    sup = w.Dropdown(description="support")
    qry = w.Dropdown(description="query")
    out = w.Output()

    busy = [False]  # no re-render while the support/query lists are being replaced

    def set_images(*_):
        ids = images_of(cls.value)
        busy[0] = True
        sup.options, qry.options = ids, ids
        sup.value, qry.value = ids[0], ids[min(1, len(ids) - 1)]
        busy[0] = False

    def render(*_):
        if busy[0] or sup.value is None or qry.value is None:
            return
        _show_in(out, episode_static(model, source, [(cls.value, sup.value, qry.value)], image_size))

    set_images()
    cls.observe(lambda change: (set_images(), render()), names="value")
    sup.observe(render, names="value")
    qry.observe(render, names="value")
    render()
    return w.VBox([w.HBox([cls, sup, qry]), out])


def annotation_explorer(model, source, class_id: int, support_id: str, query_id: str, image_size: int = 241,
                        seed: int = 0):
    """An ipywidgets explorer: toggle the support annotation (mask / scribble / box / drawn) and
    the scribble seed; for "drawn", type the fg (and optionally bg) scribble as points
    "x,y; x,y; ..." in pixels of the resized support. Shows ``annotation_static``'s row for the
    choice. Returns the widget."""
    import ipywidgets as w

    view = load_view(source, class_id, support_id, query_id, image_size)
    c = image_size // 2
    kind = w.ToggleButtons(options=[("mask", "mask"), ("scribble", "scribble"), ("box", "bbox"),
                                    ("drawn", "drawn")], description="support")
    seed_w = w.IntSlider(value=seed, min=0, max=20, description="seed")
    fg_w = w.Text(value=f"{c - 40},{c}; {c},{c + 10}; {c + 40},{c}", description="fg points")
    bg_w = w.Text(value="", description="bg points", placeholder="empty: robot's background scribble")
    out = w.Output()

    def render(*_):
        try:
            fig = annotation_figure(model, view, (kind.value,), seed_w.value, fg_w.value, bg_w.value)[0]
        except ValueError as err:  # a typo in the points: say so instead of a traceback
            # written into the widget's outputs directly, so it shows (and is testable) without a kernel
            out.outputs = ()
            out.append_stdout(f"{err}\n")
            return
        _show_in(out, fig)

    for widget in (kind, seed_w, fg_w, bg_w):
        widget.observe(render, names="value")
    render()
    return w.VBox([kind, w.HBox([seed_w]), fg_w, bg_w, out])
