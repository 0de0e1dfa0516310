"""Explorers and their static twins: known supports, widget construction, figure layout."""
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from panet_min import PANet, small_encoder
from panet_min import widgets as W

matplotlib.use("Agg")  # after pyplot's import is fine: no figure exists yet


class TinySource:
    """Three 48x48 images; class 1 = a square, class 2 = a bar; 255 on a border row."""
    dataset = "camvid"
    has_labels = True

    def __init__(self):
        rng = np.random.default_rng(0)
        self.ids = ["a", "b", "c"]
        self._img = {i: rng.integers(0, 255, (48, 48, 3), dtype=np.uint8) for i in self.ids}
        self._lab = {}
        for j, i in enumerate(self.ids):
            lab = np.zeros((48, 48), np.uint8)
            lab[8 + j:24 + j, 10:26] = 1
            lab[30:36, 4:44] = 2
            lab[0] = 255
            self._lab[i] = lab

    def image(self, i):
        return self._img[i]

    def label(self, i):
        return self._lab[i]

    def class_mask(self, i, c):
        return self._lab[i] == c

    def ignore_mask(self, i):
        return self._lab[i] == 255

    def class_list(self, c):
        return list(self.ids)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return PANet(small_encoder(channels=16)).eval()


def test_bbox_support_uses_connected_components_as_instances():
    label = np.zeros((20, 20), np.uint8)
    label[2:5, 2:6] = 3     # 12 px component
    label[10:18, 9:12] = 3  # 24 px component: the largest
    label[10:12, 9:20] = 3  # joined to it: component rows 10..17, cols 9..19
    fg, bg = W.weak_support_from_label(label, 3, "bbox")
    box = np.zeros_like(fg)
    box[10:18, 9:20] = True
    assert (fg == box).all()
    outside = np.ones_like(bg)
    outside[2:5, 2:6] = False
    outside[10:18, 9:20] = False
    assert (bg == outside).all()


def test_mask_support_and_missing_class():
    label = np.array([[1, 2], [255, 1]], np.uint8)
    fg, bg = W.weak_support_from_label(label, 1, "mask")
    assert fg.tolist() == [[True, False], [False, True]]
    assert bg.tolist() == [[False, True], [True, False]]  # ignore counts as background, as the original
    with pytest.raises(ValueError, match="class 5"):
        W.weak_support_from_label(label, 5, "mask")
    with pytest.raises(ValueError, match="unknown support kind"):
        W.weak_support_from_label(label, 1, "polygon")


def test_scribble_support_lies_inside_the_class_and_background():
    label = np.zeros((60, 60), np.uint8)
    label[15:45, 10:50] = 4
    label[0:3] = 255
    fg, bg = W.weak_support_from_label(label, 4, "scribble", seed=1)
    assert fg.any() and bg.any()
    assert not (fg & (label != 4)).any()
    assert not (bg & (label != 0)).any()
    assert fg.sum() < (label == 4).sum() / 4  # a scribble, not a mask


def test_polyline_mask_known_pixels():
    m = W.polyline_mask("1,2; 4,2", (6, 6), width=1)
    expected = np.zeros((6, 6), bool)
    expected[2, 1:5] = True
    assert (m == expected).all()
    assert W.polyline_mask([(3, 3)], (6, 6), width=1).sum() == 1
    with pytest.raises(ValueError, match="bad point"):
        W.parse_points("1,2; x")


def test_run_view_iou_matches_a_direct_forward(model):
    src = TinySource()
    view = W.load_view(src, 1, "a", "b", image_size=40)
    fg, bg = W.view_support(view, "mask")
    res = W.run_view(model, view, fg, bg)
    # the same forward, written out
    from panet_min.data.transforms import to_tensor_normalized
    with torch.no_grad():
        out = model(to_tensor_normalized(view["support_rgb"])[None, None, None],
                    torch.from_numpy(fg).float()[None, None, None], torch.from_numpy(bg).float()[None, None, None],
                    to_tensor_normalized(view["query_rgb"])[None, None])
    pred = out.logits[0, 0].argmax(0).numpy()
    assert (pred == res["prediction"]).all() and view["support_rgb"].shape == (40, 40, 3)
    gt = view["query_label"]
    keep = gt != 255
    iou = ((pred == 1) & (gt == 1) & keep).sum() / (((pred == 1) | (gt == 1)) & keep).sum()
    assert res["iou"] == pytest.approx(iou)
    assert W.run_view(model, view, np.zeros_like(fg), bg) is None
    # a second annotation of the same view replays the cached features: still the model's answer
    fg2, bg2 = W.view_support(view, "bbox")
    with torch.no_grad():
        out2 = model(to_tensor_normalized(view["support_rgb"])[None, None, None],
                     torch.from_numpy(fg2).float()[None, None, None], torch.from_numpy(bg2).float()[None, None, None],
                     to_tensor_normalized(view["query_rgb"])[None, None])
    res2 = W.run_view(model, view, fg2, bg2)
    assert np.allclose(res2["prob_fg"], out2.logits[0, 0].softmax(0)[1].numpy(), atol=1e-5)


def test_features_follow_the_weights_not_the_model_object():
    # The cache used to be keyed on id(model): weights changed in place (a training step, a
    # load_state_dict) were answered with the features of the old weights.
    torch.manual_seed(0)
    model = PANet(small_encoder(channels=16)).eval()
    view = W.load_view(TinySource(), 1, "a", "b", image_size=40)
    fg, bg = W.view_support(view, "mask")
    before = W.run_view(model, view, fg, bg)
    with torch.no_grad():
        for p in model.encoder.parameters():
            p.mul_(-1.5).add_(0.01)
    after = W.run_view(model, view, fg, bg)
    from panet_min.data.transforms import to_tensor_normalized
    with torch.no_grad():  # what the changed model answers, without any cache
        direct = model(to_tensor_normalized(view["support_rgb"])[None, None, None],
                       torch.from_numpy(fg).float()[None, None, None], torch.from_numpy(bg).float()[None, None, None],
                       to_tensor_normalized(view["query_rgb"])[None, None])
    want = direct.logits[0, 0].softmax(0)[1].numpy()
    assert not np.allclose(before["prob_fg"], want, atol=1e-3)  # the change is visible at all
    assert np.allclose(after["prob_fg"], want, atol=1e-5)
    # one cache for every view of a model: a second view of the same images encodes nothing new
    encoder = W.cached_encoder(model)
    misses = encoder.misses
    W.run_view(model, W.load_view(TinySource(), 1, "a", "b", image_size=40), fg, bg)
    assert encoder.misses == misses and encoder.hits > 0
    # the model's own mode is left as it was
    model.train()
    W.run_view(model, view, fg, bg)
    assert model.training and model.encoder.training


def test_static_fallbacks_have_the_right_number_of_axes(model):
    src = TinySource()
    fig = W.episode_static(model, src, [(1, "a", "b"), (2, "b", "c")], image_size=40)
    assert len(fig.axes) == 10
    plt.close(fig)
    fig = W.annotation_static(model, src, 1, "a", "c", image_size=40, kinds=("mask", "bbox", "drawn"),
                              fg_points="12,14; 24,20")
    assert len(fig.axes) == 9
    plt.close(fig)


def test_static_figures_are_drawn_at_the_column_width(model):
    import warnings

    from panet_min.viz import style
    src = TinySource()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no tight_layout over the constrained layout, no font issue
        figs = [W.episode_static(model, src, [(1, "a", "b")], image_size=40),
                W.annotation_static(model, src, 1, "a", "c", image_size=40, kinds=("mask", "bbox")),
                W.supports_static(src, [(1, "a"), (2, "b")], image_size=40)]
        for fig in figs:
            fig.canvas.draw()
    for fig in figs:
        assert fig.get_size_inches()[0] == style.WIDTH and fig.dpi == style.DPI
        assert fig.get_layout_engine().__class__.__name__ == "ConstrainedLayoutEngine"
        assert min(ax.title.get_fontsize() for ax in fig.axes if ax.get_title()) >= 9
        plt.close(fig)
    assert W.supports_static(src, [(1, "a")], image_size=40).get_size_inches()[1] < style.WIDTH / 2


def test_widgets_build(model):
    import ipywidgets

    src = TinySource()
    box = W.episode_explorer(model, src, [1, 2], image_size=40)
    assert isinstance(box, ipywidgets.VBox)
    cls, sup, qry = box.children[0].children
    assert list(sup.options) == ["a", "b", "c"]
    cls.value = 2  # re-renders without error
    qry.value = "c"
    box = W.annotation_explorer(model, src, 1, "a", "b", image_size=40)
    kind = box.children[0]
    for value in ("scribble", "bbox", "mask", "drawn"):
        kind.value = value
    out = box.children[-1]
    box.children[2].value = "1,2; not a point"  # a typo is reported in the output, not raised
    text = "".join(o.get("text", "") for o in out.outputs)
    assert "bad point 'not a point'" in text and "x,y; x,y" in text
    plt.close("all")
