"""Class folds: PASCAL-5i, COCO-20i (PANet's split), the CamVid folds; class names."""

import pytest

from panet_min.data import folds


def test_pascal_5i_folds_match_the_original_label_sets():
    # The original's CLASS_LABELS: fold i trains on {1..20} - {5i+1..5i+5}.
    for i in range(4):
        test = set(range(5 * i + 1, 5 * i + 6))
        assert folds.fold_classes("pascal", i, train=False) == sorted(test)
        assert folds.fold_classes("pascal", i, train=True) == sorted(set(range(1, 21)) - test)
    assert folds.fold_classes("pascal", 0, train=False) == [1, 2, 3, 4, 5]
    assert [folds.PASCAL_CLASSES[c - 1] for c in folds.fold_classes("pascal", 3, False)] == [
        "pottedplant", "sheep", "sofa", "train", "tvmonitor"]


def test_synthetic_uses_pascal_folds():
    for i in range(4):
        for train in (True, False):
            assert folds.fold_classes("synthetic", i, train) == folds.fold_classes("pascal", i, train)
    assert folds.n_classes("synthetic") == 20 and folds.n_folds("synthetic") == 4


def test_coco_20i_is_panets_contiguous_split():
    assert folds.fold_classes("coco", 0, False) == list(range(1, 21))
    assert folds.fold_classes("coco", 3, False) == list(range(61, 81))
    assert len(folds.fold_classes("coco", 1, True)) == 60
    assert 21 not in folds.fold_classes("coco", 1, True) and 1 in folds.fold_classes("coco", 1, True)
    # not the "every 4th class" split of later papers
    assert folds.fold_classes("coco", 0, False) != list(range(1, 81, 4))
    assert folds.COCO_CLASSES[0] == "person" and folds.COCO_CLASSES[79] == "toothbrush"
    assert len(set(folds.COCO_CLASSES)) == 80


def test_camvid_folds_alternate_ids_and_partition_the_classes():
    assert folds.fold_classes("camvid", 0, False) == [1, 3, 5, 7, 9, 11]
    assert folds.fold_classes("camvid", 0, True) == [2, 4, 6, 8, 10]
    assert folds.fold_classes("camvid", 1, False) == [2, 4, 6, 8, 10]
    assert folds.fold_classes("camvid", 1, True) == [1, 3, 5, 7, 9, 11]
    names = [folds.CAMVID_CLASSES[c - 1] for c in folds.fold_classes("camvid", 0, False)]
    assert names == ["Sky", "Pole", "Pavement", "SignSymbol", "Car", "Bicyclist"]


@pytest.mark.parametrize("dataset", ["pascal", "coco", "camvid"])
def test_every_fold_partitions_all_classes(dataset):
    n = folds.n_classes(dataset)
    assert n == {"pascal": 20, "coco": 80, "camvid": 11}[dataset]
    assert folds.n_folds(dataset) == {"pascal": 4, "coco": 4, "camvid": 2}[dataset]
    tested = []
    for i in range(folds.n_folds(dataset)):
        train, test = folds.fold_classes(dataset, i, True), folds.fold_classes(dataset, i, False)
        assert sorted(train + test) == list(range(1, n + 1))
        tested += test
    assert sorted(tested) == list(range(1, n + 1))  # every class is tested exactly once


def test_bad_fold_or_dataset_is_a_clear_error():
    with pytest.raises(ValueError, match="fold 4 out of range for pascal"):
        folds.fold_classes("pascal", 4, False)
    with pytest.raises(ValueError, match="fold 2 out of range for camvid"):
        folds.fold_classes("camvid", 2, True)
    with pytest.raises(ValueError, match="unknown dataset 'kitti'"):
        folds.n_classes("kitti")


LEAK_CASES = [(d, f, stuff) for d in ("pascal", "coco", "camvid", "msrc", "synthetic")
              for f in range(folds.n_folds(d)) for stuff in ((False, True) if d == "msrc" else (False,))]


@pytest.mark.parametrize("dataset, fold, stuff", LEAK_CASES)
def test_no_test_class_is_a_training_class(dataset, fold, stuff):
    test = set(folds.fold_classes(dataset, fold, train=False))
    train = set(folds.fold_classes(dataset, fold, train=True, stuff_as_training=stuff))
    assert test and train and not test & train
    assert test == set(folds.held_out_classes(dataset, fold))  # what evaluation and check_compatible use
    assert train <= set(range(1, folds.n_classes(dataset) + 1))


def training_ways(config, n_episodes=300):
    """Every class the training episodes of ``config`` use as a way, drawn as panet_min.train draws them."""
    from panet_min.data import EpisodeDataset
    from panet_min.runsetup import training_source

    source, classes, _ = training_source(config)
    ds = EpisodeDataset(source, classes, ways=config.ways, shots=config.shots, queries=config.queries,
                        n_episodes=n_episodes, seed=config.seed, image_size=config.image_size, train=True)
    return {c for i in range(len(ds)) for c in ds.sample_ids(i)["class_ids"]}


@pytest.mark.parametrize("fold", range(folds.n_folds("msrc")))
def test_msrc_training_episodes_never_draw_a_test_class(msrc_root, fold):
    from panet_min.config import TrainConfig

    test = set(folds.fold_classes("msrc", fold, train=False))
    for stuff in (False, True):
        config = TrainConfig(dataset="msrc", data_root=str(msrc_root), fold=fold, ways=2, stuff_as_training=stuff,
                             image_size=41)
        ways = training_ways(config)
        assert ways and not ways & test
        assert ways == set(folds.fold_classes("msrc", fold, train=True, stuff_as_training=stuff))  # all drawn


@pytest.mark.parametrize("fold", range(4))
def test_generated_set_training_episodes_never_draw_a_test_class(synthetic_voc_root, fold):
    from panet_min.config import TrainConfig

    config = TrainConfig(dataset="pascal", data_root=str(synthetic_voc_root), fold=fold, image_size=41)
    ways = training_ways(config)
    assert ways and not ways & set(folds.fold_classes("pascal", fold, train=False))
