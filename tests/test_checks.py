"""Bad input gets a ValueError that names the problem, never a NaN."""
import pytest

from panet_min import PANet, small_encoder
from test_model import random_episode


@pytest.fixture(scope="module")
def model():
    return PANet(small_encoder(8)).eval()


def test_empty_support_mask_names_way_and_shot(model):
    si, fg, bg, qi = random_episode(1, 2, 3, 1)
    fg[0, 1, 2] = 0
    with pytest.raises(ValueError, match="empty support foreground mask: episode 0, way 1, shot 2"):
        model(si, fg, bg, qi)


def test_mask_size_differs_from_image(model):
    si, fg, bg, qi = random_episode(1, 1, 1, 1)
    with pytest.raises(ValueError, match="masks must have the size of their image"):
        model(si, fg[..., :-1], bg[..., :-1], qi)


def test_query_size_differs(model):
    si, fg, bg, qi = random_episode(1, 1, 1, 1)
    with pytest.raises(ValueError, match="query images are"):
        model(si, fg, bg, qi[..., :-2])


def test_wrong_rank(model):
    si, fg, bg, qi = random_episode(1, 1, 1, 1)
    with pytest.raises(ValueError, match=r"support_images must have shape \[B, N, K, 3, H, W\]"):
        model(si[0], fg, bg, qi)
    with pytest.raises(ValueError, match=r"query_images must have shape"):
        model(si, fg, bg, qi[0])


def test_non_finite_pixels(model):
    si, fg, bg, qi = random_episode(1, 1, 1, 1)
    qi[0, 0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="query_images contains NaN"):
        model(si, fg, bg, qi)


def test_non_binary_mask(model):
    si, fg, bg, qi = random_episode(1, 1, 1, 1)
    with pytest.raises(ValueError, match="binary mask"):
        model(si, fg * 0.5 + fg, bg, qi)


def test_mismatched_ways(model):
    si, fg, bg, qi = random_episode(1, 2, 1, 1)
    with pytest.raises(ValueError, match=r"support_fg has \(B, N, K\)"):
        model(si, fg[:, :1], bg, qi)
