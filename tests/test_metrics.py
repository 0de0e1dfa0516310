"""FewShotMeter against a literal set-based copy of the official Metric."""
import numpy as np
import pytest
import torch

from panet_min import metrics
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
    ids = sorted(all_ids)  # some may never be present: NaN per class in both
    got, got_mean = meter.mean_iou(ids)
    with np.errstate(invalid="ignore"):
        want, want_mean = ref.miou(ids)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # the mean: over the seen classes here; the official mean is NaN as soon as one is unseen
    assert got_mean == pytest.approx(np.nanmean(want), rel=1e-12)
    assert np.isnan(want_mean) == bool(np.isnan(want).any())
    got_b, got_bm = meter.binary_iou()
    want_b, want_bm = ref.binary()
    np.testing.assert_allclose(got_b, want_b, rtol=1e-12)
    assert got_bm == pytest.approx(want_bm, rel=1e-12)


def test_mean_iou_is_over_the_seen_classes_never_nan():
    m = FewShotMeter(20)
    m.record(np.array([[1, 1, 0]]), np.array([[1, 0, 0]]), [4])  # class 4: TP 1, FP 1 -> 1/2
    m.record(np.array([[0, 1]]), np.array([[0, 0]]), [9])  # class 9 never in the ground truth
    per_class, mean = m.mean_iou([4, 9])
    assert per_class[0] == pytest.approx(0.5) and np.isnan(per_class[1])
    assert mean == pytest.approx(0.5)  # the official Metric would give nan here
    assert m.seen([4, 9]) == [4]
    with np.errstate(invalid="ignore"):
        ref = SetMetric(20)
        ref.record(np.array([[1, 1, 0]]), np.array([[1, 0, 0]]), [4])
        ref.record(np.array([[0, 1]]), np.array([[0, 0]]), [9])
        assert np.isnan(ref.miou([4, 9])[1])
    with pytest.raises(ValueError, match="no class of \\[9\\]"):
        m.mean_iou([9])


@pytest.mark.parametrize("dtype", [np.int64, np.uint8, np.int32])
def test_input_kinds_give_the_same_sums(dtype):
    rng = np.random.default_rng(5)
    pred = rng.integers(0, 3, size=(2, 7, 9))
    target = rng.integers(0, 3, size=(2, 7, 9))
    target[:, 0] = 255
    want = FewShotMeter(20)
    want.record(pred, target, [5, 11])
    for p, t in ((pred.astype(dtype), target.astype(np.uint8 if dtype == np.uint8 else dtype)),
                 (torch.from_numpy(pred), torch.from_numpy(target)), (pred.tolist(), target.tolist()),
                 (pred.astype(float), target)):
        got = FewShotMeter(20)
        got.record(p, t, torch.tensor([5, 11]))
        assert got._sums()[0].tolist() == want._sums()[0].tolist()
        assert all(np.array_equal(a, b) for a, b in zip(got._sums(), want._sums()))
    assert pred.max() == 2  # the inputs are not written to
    assert (target[:, 0] == 255).all()


def test_the_device_path_counts_the_same():
    # what CUDA tensors take (sums in tensor ops, a tensor accumulator, the range check before
    # counting), run here on CPU tensors against the host path
    rng = np.random.default_rng(6)
    a, b = FewShotMeter(20), FewShotMeter(20)
    for _ in range(5):
        pred = torch.from_numpy(rng.integers(0, 3, size=(2, 6, 8)))
        target = torch.from_numpy(rng.integers(0, 3, size=(2, 6, 8)))
        target[torch.rand(target.shape) < 0.2] = 255
        target[1][target[1] == 2] = 0  # way 2 absent from query 1
        assert metrics._device_range_ok(pred, target, 3)
        conf = a._confusion(pred, target, 3, check=True)
        a._add(metrics._sums_host(conf, 3), [3, 8])
        b._add(metrics._sums_device(torch.from_numpy(conf), 3), [3, 8])
    assert isinstance(b._acc, torch.Tensor) and isinstance(a._acc, np.ndarray)
    assert a.mean_iou([3, 8]) == b.mean_iou([3, 8]) and a.binary_iou() == b.binary_iou()
    b._add(metrics._sums_host(conf, 3), [3, 8])  # host sums join a device accumulator
    a._add(metrics._sums_host(conf, 3), [3, 8])
    assert all(np.array_equal(x, y) for x, y in zip(a._sums(), b._sums()))
    zeros = torch.zeros(2, 2, dtype=torch.long)
    for bad_pred, bad_target in ((3, 0), (-1, 0), (0, 7), (0, -1), (0, 256)):
        assert not metrics._device_range_ok(zeros + bad_pred, zeros + bad_target, 3)


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
    for bad_target in (7, -1, 300):  # outside 0..N and not 255
        with pytest.raises(ValueError, match="1-way"):
            m.record(np.zeros((2, 2), int), np.full((2, 2), bad_target), [1])
    with pytest.raises(ValueError, match="1-way"):
        m.record(np.full((2, 2), -1), np.zeros((2, 2), int), [1])
    assert m.n_records == 0
    with pytest.raises(ValueError, match="nothing recorded"):
        FewShotMeter(20).binary_iou()


def test_buffers_reused_across_sizes_give_the_reference_sums():
    """The index and ones buffers are kept between calls and sliced to each query's size:
    a large record, a small one, then a large one again count as the set-based reference."""
    rng = np.random.default_rng(7)
    meter, ref = FewShotMeter(20), SetMetric(20)
    for shape in ((3, 9, 11), (1, 2, 3), (2, 12, 10)):
        pred = rng.integers(0, 3, size=shape)
        target = rng.integers(0, 3, size=shape).astype(np.uint8)
        target[rng.random(shape) < 0.15] = 255
        meter.record(torch.from_numpy(pred), torch.from_numpy(target), [4, 9])
        for q in range(shape[0]):
            ref.record(pred[q], target[q], [4, 9])
    assert all(np.array_equal(a, b) for a, b in zip(meter._sums(), ref.sums()))
    for bad_value in (3, 254, 256, -1):  # a bad target in the last query only: refused, nothing added
        bad = target.astype(np.int64)
        bad[1, 11, 9] = bad_value
        with pytest.raises(ValueError, match="2-way"):
            meter.record(pred, bad, [4, 9])
    assert meter.n_records == 6


@pytest.mark.parametrize("bad", [3, -1, 2**40, -(2**40)])
def test_a_pred_outside_the_ways_is_refused_whatever_its_value(bad):
    # 2-way: labels 0..2; 3 is inside the power-of-two width (4 columns) of the confusion matrix,
    # the others outside it
    pred = np.zeros((4, 5), np.int64)
    pred[2, 3] = bad
    m = FewShotMeter(20)
    with pytest.raises(ValueError, match="2-way"):
        m.record(pred, np.zeros((4, 5), np.int64), [1, 2])
    with pytest.raises(ValueError, match="2-way"):
        m.record(np.full((2, 2), 3, np.uint8), np.zeros((2, 2), np.uint8), [1, 2])
    assert m.n_records == 0


def test_empty_queries_count_nothing():
    # no pixels (or no queries): recorded, nothing counted, as the set-based reference
    m, ref = FewShotMeter(5), SetMetric(5)
    m.record(np.zeros((0, 4), int), np.zeros((0, 4), int), [1])
    m.record(torch.zeros(0, 3, 3, dtype=torch.long), torch.zeros(0, 3, 3, dtype=torch.long), [1])
    ref.record(np.zeros((0, 4), int), np.zeros((0, 4), int), [1])
    assert m.n_records == 1
    assert all(np.array_equal(a, b) for a, b in zip(m._sums(), ref.sums()))


def test_a_class_given_twice_sums_both_ways():
    # the same global id for two ways: its counts are the sum of both (numpy and device paths)
    rng = np.random.default_rng(8)
    pred = rng.integers(0, 3, size=(6, 7))
    target = rng.integers(0, 3, size=(6, 7))
    assert {1, 2} <= set(np.unique(target))
    a, b = FewShotMeter(20), FewShotMeter(20)
    a.record(pred, target, [5, 5])
    conf = b._confusion(torch.from_numpy(pred), torch.from_numpy(target), 3, check=True)
    b._add(metrics._sums_device(torch.from_numpy(conf), 3), [5, 5])
    assert all(np.array_equal(x, y) for x, y in zip(a._sums(), b._sums()))
    tp, fp, fn = (x[5] for x in a._sums())
    assert tp == sum(((pred == j) & (target == j)).sum() for j in (1, 2))
    assert fp == sum(((pred == j) & (target != j)).sum() for j in (1, 2))
    assert fn == sum(((target == j) & (pred != j)).sum() for j in (1, 2))
