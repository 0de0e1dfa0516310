"""panet_min.viz.diagrams: the drawn PANet pipeline (chapter 5) and PAR (chapter 6)."""
import matplotlib
import matplotlib.pyplot as plt
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from panet_min.viz import diagrams, style


def texts(fig) -> str:
    return "\n".join(t.get_text() for ax in fig.axes for t in ax.texts)


def box_colours(fig) -> set[str]:
    return {to_hex(p.get_facecolor()) for ax in fig.axes for p in ax.patches
            if type(p).__name__ == "FancyBboxPatch"}


@pytest.mark.parametrize("draw", [diagrams.plot_pipeline, diagrams.plot_par_diagram])
def test_a_figure_of_the_column_width_with_legible_text(draw):
    fig = draw()
    assert isinstance(fig, Figure)
    assert tuple(fig.get_size_inches())[0] == pytest.approx(style.WIDTH)
    assert fig.dpi == style.DPI
    sizes = [t.get_fontsize() for ax in fig.axes for t in ax.texts]
    assert sizes and min(sizes) >= 9
    fig.canvas.draw()  # every text lies inside the figure: nothing clipped at its edges
    renderer = fig.canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    for ax in fig.axes:
        for t in ax.texts:
            if not t.get_text():
                continue
            box = t.get_window_extent(renderer)
            assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= width and box.y1 <= height, t.get_text()
    plt.close(fig)


def test_the_pipeline_names_every_step():
    fig = diagrams.plot_pipeline()
    text = texts(fig)
    for step in ("support image", "query image", "VGG-16", "masked average", "prototypes",
                 "cosine", r"\alpha", "softmax", "argmax", "prediction", "same\nweights"):
        assert step in text, step
    assert text.count("VGG-16") == 2  # one encoder drawn on both branches, shared weights
    assert style.colour("trained") in box_colours(fig)  # the encoder
    plt.close(fig)


def test_the_par_diagram_marks_the_par_steps_in_the_method_colour():
    fig = diagrams.plot_par_diagram()
    text = texts(fig)
    for step in ("support image", "support prototypes", "query prediction", "query prototypes",
                 "re-segmented", "cross-entropy", "no gradient"):
        assert step in text, step
    colours = box_colours(fig)
    assert colours == {style.BOX, style.colour("trained")}
    plt.close(fig)


def test_drawing_leaves_matplotlib_settings_alone():
    # a chapter's other figures (some lay themselves out with tight_layout) keep their settings
    before = dict(matplotlib.rcParams)
    for draw in (diagrams.plot_pipeline, diagrams.plot_par_diagram):
        plt.close(draw())
    assert dict(matplotlib.rcParams) == before
