"""panet_min.viz.overlays: MSRC label maps and legends, episodes with outlines, source excerpts."""
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from panet_min.data.msrc import MSRC_LEGEND
from panet_min.segment import cosine_logits
from panet_min.viz import episodes, msrc, overlays, source, style

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def legend_texts(fig):
    (legend,) = fig.legends
    return [t.get_text() for t in legend.get_texts()]


def image_axes(fig):
    return [ax for ax in fig.axes if ax.images]


# --- MSRC ---------------------------------------------------------------------------------

def msrc_label(ids, h=6, w=9):
    """A label map [h, w] with one vertical band per id."""
    lab = np.zeros((h, w), np.uint8)
    for j, c in enumerate(ids):
        lab[:, j * w // len(ids):(j + 1) * w // len(ids)] = c
    return lab


def test_msrc_colour_map_uses_the_legend_and_blacks_out_void():
    lab = msrc_label([4, 7, 255])  # cow, sky, void
    rgb = msrc.msrc_colour_map(lab)
    assert rgb.shape == (6, 9, 3) and rgb.dtype == np.uint8
    assert tuple(rgb[0, 0]) == MSRC_LEGEND[3][1] == (0, 0, 128)
    assert tuple(rgb[0, 4]) == MSRC_LEGEND[6][1]
    assert tuple(rgb[0, 8]) == (0, 0, 0)


def test_msrc_colour_map_refuses_other_ids_and_shapes():
    with pytest.raises(ValueError, match=r"\[24\].*not MSRC-v2 ids"):
        msrc.msrc_colour_map(msrc_label([1, 24]))
    with pytest.raises(ValueError, match=r"\[H, W\]"):
        msrc.msrc_colour_map(np.zeros((4, 4, 3), np.uint8))


def test_show_msrc_photos_one_column_per_photo_and_a_legend_of_present_classes():
    photos = [np.full((6, 9, 3), 100, np.uint8) for _ in range(3)]
    labels = [msrc_label([4, 2]), msrc_label([9, 7, 255]), msrc_label([11])]
    fig = msrc.show_msrc_photos(photos, labels, titles=["a", "b", "c"])
    assert isinstance(fig, matplotlib.figure.Figure)
    assert len(fig.axes) == 6 and len(image_axes(fig)) == 6
    assert legend_texts(fig) == ["grass", "cow", "sky", "aeroplane", "face", msrc.MSRC_VOID]
    assert [ax.get_title() for ax in fig.axes[:3]] == ["a", "b", "c"]
    w, h = fig.get_size_inches()
    assert w == style.WIDTH and fig.dpi == style.DPI
    assert fig.legends[0].get_texts()[0].get_fontsize() >= 9


def test_show_msrc_photos_checks_its_inputs():
    photo = np.zeros((6, 9, 3), np.uint8)
    with pytest.raises(ValueError, match="one label map per photo"):
        msrc.show_msrc_photos([photo, photo], [msrc_label([1])])
    with pytest.raises(ValueError, match="differ"):
        msrc.show_msrc_photos([photo], [np.ones((5, 9), np.uint8)])
    with pytest.raises(ValueError, match="one title per photo"):
        msrc.show_msrc_photos([photo], [msrc_label([1])], titles=["a", "b"])


def test_show_msrc_photos_other_dataset_draws_ids_without_legend():
    lab = np.array([[0, 30], [255, 80]], np.uint8)  # not MSRC ids: no error when msrc=False
    fig = msrc.show_msrc_photos([np.zeros((2, 2, 3), np.uint8)], [lab], msrc=False)
    assert len(image_axes(fig)) == 2 and not fig.legends


def test_add_msrc_legend_without_void_and_column_count():
    fig, _ = style.figure(1, 1)
    legend = msrc.add_msrc_legend(fig, [msrc_label([12, 19, 1, 7])], void=False)
    assert [t.get_text() for t in legend.get_texts()] == ["building", "sky", "car", "road"]
    assert legend._ncols == 4
    fig2, _ = style.figure(1, 1)
    many = msrc.add_msrc_legend(fig2, msrc_label(list(range(1, 10)), w=18))
    assert len(many.get_texts()) == 10 and many._ncols == 5
    with pytest.raises(ValueError, match="nothing to put in a legend"):
        msrc.add_msrc_legend(fig, np.full((3, 3), 255, np.uint8), void=False)


# --- episodes -----------------------------------------------------------------------------

def fake_episode(ways=1, shots=1, queries=1, size=16, seed=0):
    """A dict shaped like an EpisodeDataset item: fg = a square per way, bg = the rest."""
    g = torch.Generator().manual_seed(seed)
    fg = torch.zeros(ways, shots, size, size)
    fg[..., 4:10, 4:10] = 1
    bg = 1 - fg
    bg[..., 0, :] = 0  # a row of "neither"
    labels = torch.zeros(queries, size, size, dtype=torch.int64)
    for q in range(queries):
        labels[q, 2:8, 2:8] = 1 + q % ways
    labels[:, -1] = 255
    return {
        "support_images": torch.randn(ways, shots, 3, size, size, generator=g),
        "support_fg": fg, "support_bg": bg,
        "query_images": torch.randn(queries, 3, size, size, generator=g),
        "query_labels": labels,
        "class_ids": torch.arange(1, ways + 1),
        "support_ids": [[f"s{n}{k}" for k in range(shots)] for n in range(ways)],
        "query_ids": [f"q{q}" for q in range(queries)],
    }


class WideSource:
    """Every photo is 20 x 40: images are stretched back to aspect 1/2."""

    def image(self, id_):
        return np.zeros((20, 40, 3), np.uint8)


def test_plot_episode_rows_per_way_and_a_query_row():
    ep = fake_episode(ways=2, shots=2, queries=3)
    fig = episodes.plot_episode(ep, class_names=["cow", "book"])
    assert isinstance(fig, matplotlib.figure.Figure)
    assert len(fig.axes) == 3 * 3  # (N + 1) rows x max(K, Q) columns
    assert len(image_axes(fig)) == 2 * 2 + 3
    assert legend_texts(fig) == ["way 1: cow", "way 2: book", episodes.NEITHER]
    titles = [ax.get_title() for ax in image_axes(fig)]
    assert "support: way 2, shot 2" in titles and "query 3: ground truth" in titles
    # every drawn foreground is outlined: one contour set per support and per query way
    contours = [c for ax in fig.axes for c in ax.collections]
    assert len(contours) == 2 * 2 + 3
    assert fig.get_size_inches()[0] == style.WIDTH and fig.dpi == style.DPI


def test_plot_episode_stretches_images_to_the_photo_aspect():
    fig = episodes.plot_episode(fake_episode(), source=WideSource())
    ax = image_axes(fig)[0]
    assert ax.get_aspect() == pytest.approx(0.5)
    square = image_axes(episodes.plot_episode(fake_episode()))[0]
    assert square.get_aspect() == pytest.approx(1.0)


def test_plot_episode_rows_one_row_per_episode():
    eps = [fake_episode(seed=s) for s in range(3)]
    fig = episodes.plot_episode_rows(eps, class_names=["cow"], labels=[2, 5, 7])
    assert len(fig.axes) == 3 * 2 and len(image_axes(fig)) == 6
    assert fig.axes[2].get_title() == "episode 5, support: cow"
    assert fig.axes[3].get_title() == "query 1: ground truth"
    assert legend_texts(fig) == ["way 1 (the episode's class)", episodes.NEITHER]


def test_episode_drawers_refuse_wrong_inputs():
    ep = fake_episode()
    batch = {k: (v[None] if isinstance(v, torch.Tensor) else v) for k, v in ep.items()}
    with pytest.raises(ValueError, match="not a batch"):
        episodes.plot_episode(batch)
    with pytest.raises(ValueError, match="query_labels"):
        episodes.plot_episode({k: v for k, v in ep.items() if k != "query_labels"})
    with pytest.raises(ValueError, match="1-way"):
        episodes.plot_episode_rows([fake_episode(ways=2)])
    with pytest.raises(ValueError, match="one label per episode"):
        episodes.plot_episode_rows([ep, ep], labels=[1])
    with pytest.raises(ValueError, match="no episode"):
        episodes.plot_episode_rows([])


# --- figures at the column's width ----------------------------------------------------------

def drawn_quietly(draw, *args, **kwargs):
    """``draw(*args, **kwargs)`` with every warning an error (tight_layout over constrained layout
    warns), then drawn once; the Figure."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = draw(*args, **kwargs)
        fig.canvas.draw()
    return fig


def assert_column_figure(fig):
    assert fig.get_size_inches()[0] == style.WIDTH and fig.dpi == style.DPI
    assert fig.get_layout_engine().__class__.__name__ == "ConstrainedLayoutEngine"
    titles = [ax.title for ax in fig.axes if ax.get_title()]
    assert all(t.get_fontsize() >= 9 for t in titles)
    # no two titles of a row run into each other
    boxes = [t.get_window_extent() for t in titles]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), "titles overlap"


def test_show_figures_at_the_column_width():
    ep = fake_episode(ways=2, shots=2, queries=2)
    feats = torch.rand(20, 6, 6)
    figs = [drawn_quietly(overlays.show_episode, ep, prediction=ep["query_labels"], class_names=["cow", "sky"],
                          title="t"),
            drawn_quietly(overlays.show_episode, fake_episode(shots=3)),
            drawn_quietly(overlays.show_feature_channels, feats, n=16, title="t"),
            drawn_quietly(overlays.show_similarity, torch.rand(3, 24, 24), torch.rand(2, 6, 6), ["bg", "fg"]),
            drawn_quietly(overlays.show_feature_pca, torch.rand(3, 24, 24), [feats, feats], ["a", "b"]),
            drawn_quietly(overlays.show_prototypes_2d, torch.rand(6, 8), [0, 0, 1, 1, 2, 2], title="t")]
    for fig in figs:
        assert_column_figure(fig)


@pytest.mark.parametrize("ways,shots", [(1, 1), (1, 5), (2, 1), (2, 5)])
def test_plot_forward_lays_out_every_setting_compactly(ways, shots):
    from panet_min.viz.forward import plot_forward
    ep = fake_episode(ways=ways, shots=shots)
    fig = drawn_quietly(plot_forward, ep["support_images"], ep["support_fg"], ep["support_bg"],
                        ep["query_images"][0], ep["query_labels"][0], ep["query_labels"][0],
                        class_names=["aeroplane", "bicycle"][:ways], title="t", max_shots=3)
    assert_column_figure(fig)
    ks = min(shots, 3)
    assert len(fig.axes) == ways * ks + 2 and len(image_axes(fig)) == len(fig.axes)  # no blank axes
    titles = [ax.get_title() for ax in fig.axes]
    if shots == 1:  # one row: the supports, the truth, the prediction
        assert len({round(ax.get_position().y0, 3) for ax in fig.axes}) == 1
        assert titles[:ways] == [f"support: {n}" for n in ["aeroplane", "bicycle"][:ways]]
    else:  # a row of shots per way, the class named once as its label
        assert titles[:ks] == [f"shot {k + 1}/{shots}" for k in range(ks)]
        assert [ax.get_ylabel() for ax in fig.axes[:ways * ks:ks]] == ["aeroplane", "bicycle"][:ways]
    w, h = fig.get_size_inches()
    assert h < w / 2


# --- source excerpts ----------------------------------------------------------------------

def sample(x, y):
    """A docstring with a marker: total = in it."""
    total = x + y  # a trailing comment
    if total > 3:
        total = call_with_many_arguments(total, "a long string literal", another_argument=x, y=y)
    return total


def call_with_many_arguments(*args, **kwargs):
    return 0


def test_source_text_whole_and_without_docstring():
    full = source.source_text(sample)
    assert full.startswith("def sample(x, y):") and '"""A docstring' in full
    code = source.source_text(sample, docstring=False)
    assert "docstring" not in code and code.splitlines()[1].strip().startswith("total = x + y")


def test_source_text_between_markers_dedented_and_joined():
    part = source.source_text(sample, ("if total", "return"), docstring=False)
    assert part.splitlines()[0] == "if total > 3:" and part.splitlines()[-1] == "return total"
    # with the docstring kept, the marker "total =" would match in it first
    assert source.source_text(sample, ("total =", "total =")).startswith('"""A docstring')
    assert source.source_text(sample, ("total =", "total ="), docstring=False) == \
        "total = x + y  # a trailing comment"
    two = source.source_text(sample, [(1, 1), ("return", "return")], comments=False)
    assert two == "def sample(x, y):\n...\nreturn total"
    assert "#" not in source.source_text(sample, ("total = x", "total = x"), docstring=False,
                                           comments=False)


def test_source_text_wraps_long_lines_at_commas():
    text = source.source_text(sample, docstring=False, width=70)
    assert max(map(len, text.splitlines())) <= 70
    assert text.splitlines()[3:6] == [
        "        total = call_with_many_arguments(total,",
        '                                         "a long string literal",',
        "                                         another_argument=x, y=y)"]
    assert source.wrap_code_line("    x = 1  # " + "word " * 20, 40)[0].startswith("    # word")
    assert source.source_text(cosine_logits, docstring=False, width=76).splitlines()[1] == \
        "                  alpha: float = 20.0) -> torch.Tensor:"


def test_source_text_unknown_marker_is_a_clear_error():
    with pytest.raises(ValueError, match="no line containing 'nowhere'.*sample"):
        source.source_text(sample, ("total", "nowhere"))
    with pytest.raises(ValueError, match="outside the source"):
        source.source_text(sample, (1, 99))
    with pytest.raises(ValueError, match="pair"):
        source.source_text(sample, "total")


def test_show_source_is_a_code_display():
    from IPython.display import Code
    shown = source.show_source(sample, ("return", "return"))
    assert isinstance(shown, Code) and shown.data == "return total"
