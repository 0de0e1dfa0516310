"""panet_min.viz.evaluation: the figures of chapters 8 and 11."""
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from panet_min.viz import evaluation, style

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_toy_episodes_draw_truth_above_prediction_with_ignored_pixels_black():
    gt = np.zeros((4, 4), int)
    gt[0, 0] = 255
    pred = np.ones((4, 4), int)
    fig = evaluation.plot_toy_episodes([(pred, gt, [2]), (pred, gt, [1])], ["cat", "dog"])
    axes = fig.axes
    assert len(axes) == 4
    assert axes[0].get_title() == "episode 1 (dog): truth"
    assert axes[2].get_title() == "episode 1 (dog): prediction"
    shown = axes[0].images[0].get_array()
    assert shown[0, 0] == 2 and shown[1, 1] == 0  # 255 -> the third colour (black)
    assert fig.get_size_inches()[0] == pytest.approx(style.WIDTH)
    with pytest.raises(ValueError, match="no toy"):
        evaluation.plot_toy_episodes([], ["cat"])


def test_mean_over_runs_leaves_out_unseen_runs_and_keeps_nan_for_a_class_no_run_saw():
    per_run = [[0.5, np.nan, np.nan], [0.7, 0.2, np.nan]]
    m = evaluation.mean_over_runs(per_run)
    assert m[0] == pytest.approx(0.6) and m[1] == pytest.approx(0.2) and np.isnan(m[2])
    with pytest.raises(ValueError, match="runs, classes"):
        evaluation.mean_over_runs([0.5, 0.2])


def test_class_iou_runs_draws_one_bar_per_seen_class_and_series_in_their_colours():
    per_run = {"no training": [[0.5, 0.4], [0.7, np.nan]], "all background": [[0.0, 0.0], [0.0, 0.0]]}
    fig = evaluation.plot_class_iou_runs(["a", "b"], per_run)
    ax = fig.axes[0]
    heights = sorted(round(p.get_height(), 6) for p in ax.patches)
    assert heights == [0.0, 0.0, 40.0, 60.0]
    colours = {matplotlib.colors.to_hex(p.get_facecolor()) for p in ax.patches}
    assert colours == {style.COLOURS["no training"], style.COLOURS["all background"]}
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(per_run)


def test_encoder_class_iou_has_a_title_and_the_legend_above():
    fig = evaluation.plot_encoder_class_iou(["a", "b"], {"x": [0.1, 0.2], "y": [0.3, 0.4]}, "per class")
    assert fig._suptitle.get_text() == "per class"
    assert len(fig.axes[0].patches) == 4


def test_alpha_sweep_plots_three_series_and_checks_lengths():
    fig = evaluation.plot_alpha_sweep([1, 10, 100], [1.0, 0.5, 0.7], [0.4, 0.8, 0.99], [0.6, 0.6, 0.6])
    left, right = fig.axes
    assert left.get_xscale() == "log" and len(right.get_lines()) == 3  # 2 series + the alpha line
    assert left.get_lines()[0].get_color() == style.COLOURS["no training"]
    with pytest.raises(ValueError, match="same length"):
        evaluation.plot_alpha_sweep([1, 10], [1.0], [0.4, 0.8], [0.6, 0.6])


def test_shot_predictions_one_panel_per_prediction():
    H = W = 8
    ep = {"support_images": torch.zeros(1, 3, 3, H, W), "support_fg": torch.ones(1, 3, H, W),
          "query_images": torch.zeros(1, 3, H, W), "query_labels": torch.zeros(1, H, W, dtype=torch.long)}
    pred = torch.zeros(H, W, dtype=torch.long)
    fig = evaluation.plot_shot_predictions(ep, {"1-shot": pred, "3-shot": pred})
    assert [ax.get_title() for ax in fig.axes] == ["support 1 of 3", "query, truth", "1-shot", "3-shot"]
