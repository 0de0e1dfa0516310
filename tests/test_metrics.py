"""FewShotMeter against a literal set-based copy of the official Metric."""
import numpy as np
import pytest
import torch

from panet_min.metrics import FewShotMeter
from panet_min.reference import SetMetric


def test_hand_example():
    # 1-way episode of class 7; 2x3 image with one ignore pixel.
    target = np.array([[0, 1, 1], [0, 255, 1]])
    pred = np.array([[0, 1, 0], [1, 1, 1]])
    m = FewShotMeter(20)
    m.record(pred, target, [7])
    # class 7: TP 2 ((0,1),(1,2)), FP 1 ((1,0)), FN 1 ((0,2)); ignore pixel (1,1) dropped.
    # background: TP 1, FP 1 ((0,2)), FN 1 ((1,0)).
    per_class, mean = m.mean_iou([7])
    assert per_class == [pytest.approx(2 / 4)] and mean == pytest.approx(0.5)
    (bg, fg), miou = m.binary_iou()
    assert bg == pytest.approx(1 / 3) and fg == pytest.approx(0.5) and miou == pytest.approx((1 / 3 + 0.5) / 2)


def test_absent_class_is_not_counted():
    m = FewShotMeter(20)
    # Ground truth has no foreground: the false positives of class 3 are not counted.
    m.record(np.array([[1, 1]]), np.array([[0, 0]]), [3])
    assert np.isnan(m.class_iou([3])[0])
    m.record(np.array([[1, 0]]), np.array([[1, 0]]), [3])
    assert m.mean_iou([3])[1] == pytest.approx(1.0)


@pytest.mark.parametrize("ways", [1, 2, 3])
def test_random_episodes_equal_the_official_metric(ways):
    rng = np.random.default_rng(ways)
    meter, ref = FewShotMeter(20), SetMetric(20)
    all_ids = set()
    for _ in range(40):
        ids = rng.choice(np.arange(1, 21), size=ways, replace=False).tolist()
        all_ids.update(ids)
        target = rng.integers(0, ways + 1, size=(9, 11))
        target[rng.random((9, 11)) < 0.1] = 255
        if rng.random() < 0.3:  # sometimes a class is absent
            target[target == ways] = 0
        pred = rng.integers(0, ways + 1, size=(9, 11))
        meter.record(torch.from_numpy(pred), torch.from_numpy(target), ids)
        ref.record(pred, target, ids)
    ids = sorted(all_ids)  # some may never be present: NaN in both, as the original
    got, got_mean = meter.mean_iou(ids)
    want, want_mean = ref.miou(ids)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert got_mean == pytest.approx(want_mean, rel=1e-12, nan_ok=True)
    got_b, got_bm = meter.binary_iou()
    want_b, want_bm = ref.binary()
    np.testing.assert_allclose(got_b, want_b, rtol=1e-12)
    assert got_bm == pytest.approx(want_bm, rel=1e-12)


def test_query_batch_equals_one_record_per_query():
    rng = np.random.default_rng(0)
    pred = rng.integers(0, 2, size=(3, 6, 6))
    target = rng.integers(0, 2, size=(3, 6, 6))
    target[1] = 0  # query 1 has no foreground
    a, b = FewShotMeter(5), FewShotMeter(5)
    a.record(pred, target, [2])
    for q in range(3):
        b.record(pred[q], target[q], [2])
    assert a.mean_iou([2]) == b.mean_iou([2]) and a.binary_iou() == b.binary_iou()
    assert a.n_records == 3


def test_bad_inputs():
    m = FewShotMeter(20)
    with pytest.raises(ValueError, match="differ in shape"):
        m.record(np.zeros((2, 2)), np.zeros((2, 3)), [1])
    with pytest.raises(ValueError, match="outside 1..20"):
        m.record(np.zeros((2, 2)), np.zeros((2, 2)), [21])
    with pytest.raises(ValueError, match="1-way"):
        m.record(np.full((2, 2), 2), np.zeros((2, 2)), [1])
    with pytest.raises(ValueError, match="nothing recorded"):
        FewShotMeter(20).binary_iou()
