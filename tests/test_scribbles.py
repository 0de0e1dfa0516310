"""The scribble robot: known shapes, the encoding of ScribbleAugAuto, determinism, its pieces."""
import numpy as np
import pytest
from scipy import ndimage

from panet_min.data.scribbles import (_medial_axis, _open_with_disk, bezier_curve, make_scribble_map,
                                      scribble_robot)

YY, XX = np.mgrid[:120, :160]


def ellipse(cy=60, cx=80, ry=25, rx=60):
    return ((YY - cy) / ry) ** 2 + ((XX - cx) / rx) ** 2 <= 1


def components(mask):
    return ndimage.label(mask, np.ones((3, 3)))[1]


def test_scribble_of_an_ellipse_runs_along_its_major_axis():
    m = ellipse()
    s = scribble_robot(m, np.random.default_rng(0))
    assert s.any() and not (s & ~m).any()
    assert components(s) == 1
    cols = np.nonzero(s.any(0))[0]
    rows = np.nonzero(s.any(1))[0]
    assert cols[-1] - cols[0] > 0.5 * 120   # long along the 120-px axis
    assert rows[-1] - rows[0] < 0.5 * 50    # short across the 50-px axis
    assert abs(np.nonzero(s)[0].mean() - 60) < 3


def test_one_scribble_per_component_and_tiny_regions_none():
    two = ellipse(cy=30, cx=40, ry=15, rx=30) | ellipse(cy=90, cx=120, ry=15, rx=30)
    s = scribble_robot(two, np.random.default_rng(1))
    assert components(s) == 2
    assert not scribble_robot(np.zeros((20, 20), bool)).any()
    dot = np.zeros((20, 20), bool)
    dot[5:7, 5:7] = True
    assert not scribble_robot(dot).any()  # a skeleton of < 4 pixels is dropped


def test_deterministic_for_a_seed():
    m = ellipse() | (np.abs(YY - 20) < 6) & (XX > 20) & (XX < 140)
    a = scribble_robot(m, np.random.default_rng(3))
    b = scribble_robot(m, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(scribble_robot(m, None), scribble_robot(m, None))


def test_opening_removes_thin_parts_and_shrinks_for_thin_masks():
    square = (np.abs(YY - 60) < 40) & (np.abs(XX - 60) < 40)
    spur = (np.abs(YY - 60) <= 1) & (XX >= 100) & (XX < 150)
    opened = _open_with_disk(square | spur)  # radius min(0.15*sqrt(area)/2, 16) ~ 6.4
    assert not opened[:, 105:].any()
    assert opened[40:80, 40:80].all()
    line = (np.abs(YY - 60) <= 2) & (XX >= 10) & (XX < 150)  # radius 2.5 would erase it: shrinks
    assert _open_with_disk(line).sum() > 0.5 * line.sum()
    assert scribble_robot(line, np.random.default_rng(0)).sum() > 100


def test_medial_axis_is_skimages():
    from skimage.morphology import medial_axis

    for m in (ellipse(), ellipse() ^ ellipse(rx=30, ry=10), (XX % 40 < 25) & (YY % 50 < 30)):
        np.testing.assert_array_equal(_medial_axis(m, 7), medial_axis(m, rng=7))


def test_bezier_curve_matches_the_bernstein_formula():
    p = np.array([[0.0, 0.0], [10.0, 20.0], [30.0, 5.0], [40.0, 40.0]])
    t = np.linspace(0, 1, 9)[:, None]
    cubic = ((1 - t) ** 3 * p[0] + 3 * t * (1 - t) ** 2 * p[1] + 3 * t ** 2 * (1 - t) * p[2] + t ** 3 * p[3])
    np.testing.assert_allclose(bezier_curve(p, 9), cubic, atol=1e-3)  # float32 weights
    long = np.c_[np.arange(800.0), 2 * np.arange(800.0)]  # a straight path stays on its line
    curve = bezier_curve(long, 1000)
    assert np.isfinite(curve).all()
    np.testing.assert_allclose(curve[:, 1], 2 * curve[:, 0], atol=1e-2)
    np.testing.assert_allclose(curve[[0, -1]], long[[0, -1]])


def test_scribble_map_encoding():
    label = np.zeros((120, 160), np.uint8)
    label[ellipse(cy=40, cx=50, ry=20, rx=35)] = 7
    label[ellipse(cy=85, cx=110, ry=20, rx=40)] = 12
    border = ndimage.morphological_gradient(label, size=3) > 0
    label[border] = 255
    scr = make_scribble_map(label, seed=4)
    assert scr.dtype == np.uint8 and set(np.unique(scr)) == {0, 7, 12, 255}
    for v in (0, 7, 12):
        assert (label[scr == v] == v).all()
    np.testing.assert_array_equal(scr, make_scribble_map(label, seed=4))
    with pytest.raises(ValueError, match="2-D"):
        make_scribble_map(label[None])
