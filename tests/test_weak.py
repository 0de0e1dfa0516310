"""Weak supports: scribble and box masks on fixtures with known instances and scribbles."""

import numpy as np
import pytest

from panet_min.data.weak import bbox_support, dilate_scribble, resize_scribble, scribble_support


def instance_fixture():
    """10 x 12 map: class 1 has instances 1 (big, L-shaped) and 2 (small); class 2 has instance 3."""
    label = np.zeros((10, 12), np.uint8)
    inst = np.zeros((10, 12), np.uint8)
    label[1:5, 1:3] = 1  # instance 1: 8 px column ...
    inst[1:5, 1:3] = 1
    label[4, 3:6] = 1  # ... plus a foot: 11 px, box rows 1-4, cols 1-5
    inst[4, 3:6] = 1
    label[7:9, 8:10] = 1  # instance 2: 4 px, box rows 7-8, cols 8-9
    inst[7:9, 8:10] = 2
    label[0:3, 8:12] = 2  # instance 3 belongs to class 2
    inst[0:3, 8:12] = 3
    label[5, 1:3] = 255  # border
    inst[5, 1:3] = 255
    return label, inst


def box(shape, r0, r1, c0, c1):
    m = np.zeros(shape, bool)
    m[r0:r1 + 1, c0:c1 + 1] = True
    return m


def test_bbox_fg_is_the_box_of_the_largest_instance_bg_outside_all_boxes():
    label, inst = instance_fixture()
    fg, bg = bbox_support(inst, label == 1)
    assert np.array_equal(fg, box(label.shape, 1, 4, 1, 5))
    expected_bg = ~(box(label.shape, 1, 4, 1, 5) | box(label.shape, 7, 8, 8, 9))
    assert np.array_equal(bg, expected_bg)
    # instance 3 (class 2) is not a box of class 1: its pixels stay background
    assert bg[0:3, 10:12].all()
    # the box includes non-class pixels inside it (the corner of the L)
    assert fg[1, 5] and label[1, 5] == 0


def test_bbox_other_class_and_ties():
    label, inst = instance_fixture()
    fg, bg = bbox_support(inst, label == 2)
    assert np.array_equal(fg, box(label.shape, 0, 2, 8, 11)) and np.array_equal(bg, ~fg)
    # equal areas: the smaller instance id wins (argmax of the area histogram)
    inst2 = np.zeros((4, 6), np.uint8)
    inst2[0, 0:2] = 5
    inst2[3, 3:5] = 4
    fg, _ = bbox_support(inst2, inst2 > 0)
    assert np.array_equal(fg, box((4, 6), 3, 3, 3, 4))


def test_bbox_only_counts_instance_pixels_inside_the_class_mask():
    label, inst = instance_fixture()
    mask = label == 1
    mask[1:5, 1:3] = False  # hide most of instance 1: only its 3-px foot is left, instance 2 (4 px) wins
    fg, bg = bbox_support(inst, mask)
    assert np.array_equal(fg, box(label.shape, 7, 8, 8, 9))
    assert np.array_equal(bg, ~(box(label.shape, 4, 4, 3, 5) | box(label.shape, 7, 8, 8, 9)))


def test_bbox_without_instances_gives_empty_fg():
    fg, bg = bbox_support(np.zeros((3, 3), np.uint8), np.ones((3, 3), bool))
    assert not fg.any() and bg.all()


def scribble_fixture():
    """Class 1 region holds object scribbles 3 and 7; a scribble 9 lies outside it."""
    label = np.zeros((8, 8), np.uint8)
    label[1:6, 1:6] = 1
    scr = np.full((8, 8), 255, np.uint8)
    scr[2, 1:5] = 3
    scr[4, 2:6] = 7
    scr[7, 0:8] = 0      # background scribble
    scr[0, 6:8] = 9      # an object scribble of something else, outside class 1
    scr[0, 0] = 0
    return label, scr


def test_scribble_fg_is_one_object_scribble_inside_the_class_bg_the_zero_scribble():
    label, scr = scribble_fixture()
    mask = label == 1
    seen = set()
    for seed in range(20):
        fg, bg = scribble_support(scr, mask, np.random.default_rng(seed))
        assert np.array_equal(bg, scr == 0)
        values = set(np.unique(scr[fg]).tolist())
        assert len(values) == 1 and values <= {3, 7}
        v = values.pop()
        assert np.array_equal(fg, mask & (scr == v))
        seen.add(v)
    assert seen == {3, 7}  # both scribbles get chosen
    # the draw is the rng's: same seed, same choice
    a = scribble_support(scr, mask, np.random.default_rng(5))[0]
    b = scribble_support(scr, mask, np.random.default_rng(5))[0]
    assert np.array_equal(a, b)


def test_scribble_part_outside_the_class_is_cut_off():
    label, scr = scribble_fixture()
    scr[2, 0:7] = 3  # scribble 3 now pokes out of the class region on both sides
    mask = label == 1
    chosen = [scribble_support(scr, mask, np.random.default_rng(seed))[0] for seed in range(10)]
    with_3 = [fg for fg in chosen if fg[2, 2]]
    assert with_3, "scribble 3 was never drawn in 10 seeds"
    for fg in with_3:
        assert np.array_equal(fg, mask & (scr == 3)) and not fg[2, 0] and not fg[2, 6]


def test_scribble_without_object_scribble_in_the_class():
    label, scr = scribble_fixture()
    fg, bg = scribble_support(scr, label == 2, np.random.default_rng(0))
    assert not fg.any() and np.array_equal(bg, scr == 0)


def test_resize_scribble_nearest_by_default_and_antialias_blends():
    scr = np.full((8, 8), 255, np.uint8)
    scr[:, :4] = 1
    near = resize_scribble(scr, 4)
    assert near.shape == (4, 4) and set(np.unique(near).tolist()) == {1, 255}
    smooth = resize_scribble(scr, 6, antialias=True)
    assert smooth.shape == (6, 6)
    assert len(set(np.unique(smooth).tolist()) - {1, 255}) > 0  # in-between "scribble ids" appear


def test_dilate_scribble_is_a_minimum_filter():
    scr = np.full((7, 7), 255, np.uint8)
    scr[3, 3] = 5
    scr[3, 5] = 0
    out = dilate_scribble(scr, 3)
    assert out[2, 2] == 5 and out[4, 3] == 5      # object scribble grew into "none"
    assert out[3, 4] == 0                          # where they meet, background (0) wins
    assert out[0, 0] == 255
    assert np.array_equal(dilate_scribble(scr, 0), scr)


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="differ in size"):
        bbox_support(np.zeros((3, 3), np.uint8), np.zeros((3, 4), bool))
    with pytest.raises(ValueError, match="scribble must be uint8"):
        scribble_support(np.zeros((3, 3), np.int64), np.zeros((3, 3), bool), np.random.default_rng(0))


# ---- weak supports made from label maps, per object (MSRC) -------------------------------------

def two_cows():
    """Class 4 in two separate blobs and a 3-pixel fragment; class 12 one blob; 1 (stuff) elsewhere."""
    label = np.ones((40, 60), np.uint8)
    label[5:20, 5:25] = 4
    label[22:38, 35:58] = 4
    label[0, 0:3] = 4  # a fragment: not an object of its own
    label[25:35, 5:20] = 12
    label[38:40, :] = 255
    return label


def test_object_map_numbers_each_component_and_drops_fragments():
    from panet_min.data.weak import object_map

    objects = object_map(two_cows(), [4, 12])
    assert sorted(np.unique(objects).tolist()) == [0, 1, 2, 3]
    assert objects[10, 10] == 1 and objects[30, 50] == 2 and objects[30, 10] == 3  # class order, scan order
    assert objects[0, 1] == 0 and (objects[two_cows() == 1] == 0).all()


def test_object_scribbles_mark_one_object_each_and_support_fg_is_one_of_them():
    from panet_min.data.scribbles import object_scribble_map
    from panet_min.data.weak import object_map

    label = two_cows()
    objects = object_map(label, [4, 12])
    scribble = object_scribble_map(objects, label == 1, seed=0)
    for k in (1, 2, 3):  # each object's scribble lies inside that object
        assert (scribble == k).any() and (objects[scribble == k] == k).all()
    assert (scribble == 0).any() and (label[scribble == 0] == 1).all()  # the background scribble on stuff
    np.testing.assert_array_equal(scribble, object_scribble_map(objects, label == 1, seed=0))
    picked = set()
    for seed in range(20):  # the support's foreground is one cow's scribble, not both
        fg, bg = scribble_support(scribble, label == 4, np.random.default_rng(seed))
        values = set(np.unique(objects[fg]).tolist())
        assert len(values) == 1 and values <= {1, 2}
        picked |= values
        np.testing.assert_array_equal(bg, scribble == 0)
    assert picked == {1, 2}
    fg, bg = bbox_support(objects, label == 4)  # the box of the larger cow, background outside both boxes
    assert fg.sum() == 16 * 23 and fg[30, 50] and not fg[10, 10]
    assert not bg[10, 10] and not bg[30, 50] and bg[30, 10]


def class_names_msrc():
    from panet_min.data import class_names

    return list(class_names("msrc"))


def test_msrc_weak_supports_are_per_object_and_pair_with_dense_episodes(msrc_root):
    from scipy import ndimage

    from panet_min.data import EpisodeDataset, fold_classes, open_source

    src = open_source("msrc", msrc_root, "all")
    classes = fold_classes("msrc", 1, train=False)
    dense = EpisodeDataset(src, classes, n_episodes=12, seed=7, image_size=241)
    scrib = EpisodeDataset(src, classes, n_episodes=12, seed=7, image_size=241, annotation="scribble")
    boxes = EpisodeDataset(src, classes, n_episodes=12, seed=7, image_size=241, annotation="bbox")
    for i in range(12):
        d, s, b = dense[i], scrib[i], boxes[i]
        assert d["support_ids"] == s["support_ids"] == b["support_ids"] and d["query_ids"] == s["query_ids"]
        fg = s["support_fg"][0, 0].numpy() > 0
        assert 0 < fg.sum() < (d["support_fg"][0, 0] > 0).sum()  # a scribble, inside the dense mask
        assert (d["support_fg"][0, 0].numpy()[fg] == 1).all()
        comps, _ = ndimage.label(d["support_fg"][0, 0].numpy() > 0, structure=np.ones((3, 3)))
        assert len(set(comps[fg].tolist())) == 1  # one object
        box = b["support_fg"][0, 0].numpy() > 0
        rows, cols = np.nonzero(box)
        assert box.sum() == (np.ptp(rows) + 1) * (np.ptp(cols) + 1)  # a filled rectangle
        assert s["empty_supports"] == b["empty_supports"] == 0
    book = class_names_msrc().index("book") + 1  # photos of a book and void only: void is background
    assert all((src.scribble(i) == 0).any() for i in src.class_list(book)[:6])
    ids = src.ids[:8]
    first = [src.scribble(i) for i in ids]
    src.scribble_seed = 1  # another robot seed: other scribbles on the same objects
    second = [src.scribble(i) for i in ids]
    assert any(not np.array_equal(a, b) for a, b in zip(first, second))
    for a, b in zip(first, second):
        assert set(np.unique(a).tolist()) == set(np.unique(b).tolist())
