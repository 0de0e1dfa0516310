"""panet_min.viz.curves: log reading, smoothing, and that figures draw exactly the numbers given."""
import json

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from panet_min.viz import curves

matplotlib.use("Agg")  # after pyplot's import is fine: no figure exists yet


def write_log(path, records):
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return path


RECORDS = [{"step": 1, "loss": 2.0, "query_loss": 1.5, "par_loss": 0.5, "lr": 1e-3},
           {"step": 2, "loss": 1.0, "query_loss": 0.8, "par_loss": 0.2, "lr": 1e-3, "proto_dist": 3.0},
           {"step": 3, "loss": 0.5, "query_loss": 0.4, "par_loss": 0.1, "lr": 1e-4},
           {"step": 4, "loss": 0.25, "query_loss": 0.2, "par_loss": 0.05, "lr": 1e-4, "proto_dist": 2.0}]


def test_read_log_roundtrip_and_blank_lines(tmp_path):
    p = tmp_path / "log.jsonl"
    p.write_text(json.dumps(RECORDS[0]) + "\n\n" + json.dumps(RECORDS[1]) + "\n")
    assert curves.read_log(p) == RECORDS[:2]


def test_read_log_errors_name_file_and_line(tmp_path):
    with pytest.raises(ValueError, match="no training log"):
        curves.read_log(tmp_path / "absent.jsonl")
    p = tmp_path / "log.jsonl"
    p.write_text(json.dumps(RECORDS[0]) + "\n" + '{"step": 2, "lo')
    with pytest.raises(ValueError, match="line 2"):
        curves.read_log(p)
    p.write_text("[1, 2]\n")
    with pytest.raises(ValueError, match="JSON object"):
        curves.read_log(p)


def test_series_skips_records_without_the_key_and_non_finite():
    steps, values = curves.series(RECORDS, "proto_dist")
    np.testing.assert_array_equal(steps, [2, 4])
    np.testing.assert_array_equal(values, [3.0, 2.0])
    recs = [{"step": 1, "loss": float("nan")}, {"step": 2, "loss": 1.0}, {"step": 3, "loss": None}]
    steps, values = curves.series(recs, "loss")
    np.testing.assert_array_equal(steps, [2])
    with pytest.raises(ValueError, match="logged keys"):
        curves.series(RECORDS, "accuracy")


def test_series_reads_the_names_train_logs_only():
    recs = [{"step": 5, "prototype_distance": 1.25}]  # not a name panet_min.train writes
    with pytest.raises(ValueError, match="prototype_distance"):
        curves.series(recs, "proto_dist")


def test_moving_average_known_values():
    v = [1.0, 2.0, 3.0, 4.0, 5.0]
    np.testing.assert_allclose(curves.moving_average(v, 2), [1.0, 1.5, 2.5, 3.5, 4.5])
    np.testing.assert_allclose(curves.moving_average(v, 3), [1.0, 1.5, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(curves.moving_average(v, 1), v)
    np.testing.assert_allclose(curves.moving_average(v, 10), np.cumsum(v) / np.arange(1, 6))
    with pytest.raises(ValueError, match="window"):
        curves.moving_average(v, 0)


def test_training_curves_draw_the_logged_values():
    no_par = [{k: v for k, v in r.items() if k != "par_loss"} for r in RECORDS]
    fig = curves.plot_training_curves({"PAR": RECORDS, "no PAR": no_par}, keys=("loss", "par_loss"))
    ax_loss, ax_par = fig.axes
    assert len(ax_loss.lines) == 2 and len(ax_par.lines) == 1
    np.testing.assert_array_equal(ax_loss.lines[0].get_ydata(), [2.0, 1.0, 0.5, 0.25])
    np.testing.assert_array_equal(ax_par.lines[0].get_ydata(), [0.5, 0.2, 0.1, 0.05])
    plt.close(fig)
    fig = curves.plot_training_curves(RECORDS, keys=("loss",), smooth=2)
    raw, smooth = fig.axes[0].lines
    np.testing.assert_allclose(smooth.get_ydata(), [2.0, 1.5, 0.75, 0.375])
    plt.close(fig)


def test_training_curves_say_when_nothing_was_logged():
    fig = curves.plot_training_curves(RECORDS, keys=("accuracy",))
    assert [t.get_text() for t in fig.axes[0].texts] == ["accuracy: not logged"]
    plt.close(fig)


def test_prototype_distance_plot():
    fig = curves.plot_prototype_distance({"a": RECORDS})
    line = fig.axes[0].lines[0]
    np.testing.assert_array_equal(line.get_xdata(), [2, 4])
    np.testing.assert_array_equal(line.get_ydata(), [3.0, 2.0])
    plt.close(fig)
    with pytest.raises(ValueError, match="proto_dist"):
        curves.plot_prototype_distance({"a": [{"step": 1, "loss": 1.0}]})


def test_prototype_distance_smoothed_line_is_the_moving_average():
    fig = curves.plot_prototype_distance({"a": RECORDS}, smooth=2)
    raw, smoothed = fig.axes[0].lines
    np.testing.assert_array_equal(raw.get_ydata(), [3.0, 2.0])
    np.testing.assert_allclose(smoothed.get_ydata(), [3.0, 2.5])
    assert smoothed.get_label() == "a" and raw.get_label().startswith("_")
    plt.close(fig)


def test_class_iou_bars_heights_errors_and_missing():
    names = ["Sky", "Pole", "Car"]
    fig = curves.plot_class_iou(names, {"1-shot": ([0.5, np.nan, 0.25], [0.1, np.nan, 0.05]),
                                        "5-shot": ([0.6, 0.2, 0.3], None)})
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, [50.0, 25.0, 60.0, 20.0, 30.0])
    assert [t.get_text() for t in ax.texts] == ["n/a"]  # the NaN class: no bar, a mark
    # the error bars of the first run: +-10 and +-5 around 50 and 25
    segs = [c for c in ax.collections if hasattr(c, "get_segments")][0].get_segments()
    np.testing.assert_allclose([s[:, 1] for s in segs], [[40.0, 60.0], [20.0, 30.0]])
    plt.close(fig)
    with pytest.raises(ValueError, match="fractions"):
        curves.plot_class_iou(names, {"x": ([50.0, 20.0, 30.0], None)})
    with pytest.raises(ValueError, match="3 classes"):
        curves.plot_class_iou(names, {"x": ([0.5, 0.2], None)})


def test_paper_vs_ours_bars():
    fig = curves.plot_paper_vs_ours(["a", "b"], [48.1, 55.7], [None, 30.0], [None, 1.0])
    ax = fig.axes[0]
    np.testing.assert_allclose([p.get_height() for p in ax.patches], [48.1, 55.7, 30.0])
    assert [t.get_text() for t in ax.texts] == ["n/a"]
    plt.close(fig)


def test_format_score_and_markdown_table():
    assert curves.format_score(0.4234, 0.005) == "42.3 ± 0.5"
    assert curves.format_score(0.4234) == "42.3"
    assert curves.format_score(float("nan"), 0.1) == "n/a"
    assert curves.format_score(None) == "n/a"
    assert curves.format_score(42.34, 1.0, percent=False, digits=2) == "42.34 ± 1.00"
    table = curves.markdown_table(["setting", "mIoU"], [["1-shot", "48.1"], ["a|b", None]])
    assert table == ("| setting | mIoU |\n|---|---|\n| 1-shot | 48.1 |\n| a\\|b | n/a |")
    with pytest.raises(ValueError, match="row 0 has 1 cells"):
        curves.markdown_table(["a", "b"], [["x"]])


def test_figures_use_the_book_colours_and_layout_not_matplotlib_defaults():
    from matplotlib.colors import to_hex

    from panet_min.viz import style

    fig = curves.plot_class_iou(["Sky", "Pole"], {"1-shot": ([0.5, 0.2], None),
                                                  "5-shot": ([0.6, 0.3], None),
                                                  "vgg16, random": ([0.1, 0.1], None)})
    colours = [to_hex(p.get_facecolor()) for p in fig.axes[0].patches]
    assert colours[:2] == [style.colour("1-shot")] * 2 and colours[2:4] == [style.colour("5-shot")] * 2
    assert colours[4] == style.OTHER[0] and colours[4] not in style.COLOURS.values()
    assert fig.get_layout_engine() is not None and tuple(fig.get_size_inches())[0] == style.WIDTH
    plt.close(fig)
    fig = curves.plot_training_curves({"trained": RECORDS, "no PAR": RECORDS}, keys=("loss",),
                                      colours={"trained": "#123456"})
    assert [to_hex(line.get_color()) for line in fig.axes[0].lines] == ["#123456", style.colour("no PAR")]
    plt.close(fig)
    fig = curves.plot_paper_vs_ours(["a"], [48.1], [40.0])
    assert [to_hex(p.get_facecolor()) for p in fig.axes[0].patches] == [style.colour("paper"),
                                                                       style.colour("trained")]
    plt.close(fig)
    for draw in (lambda: curves.plot_prototype_distance({"a": RECORDS}),
                 lambda: curves.plot_training_curves({"a": RECORDS, "b": RECORDS})):
        fig = draw()
        used = {to_hex(line.get_color()) for ax in fig.axes for line in ax.lines}
        assert used <= set(style.OTHER)  # runs without a meaning: never matplotlib's C0, C1
        plt.close(fig)


def test_plotting_leaves_matplotlib_settings_alone():
    before = dict(matplotlib.rcParams)
    plt.close(curves.plot_training_curves(RECORDS, keys=("loss",)))
    plt.close(curves.plot_class_iou(["Sky"], {"1-shot": ([0.5], None)}))
    assert dict(matplotlib.rcParams) == before
