"""Episodes: sampling rule, pixel-exact support/query masks, determinism, loaders, batches into PANet."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from panet_min.data import (EpisodeDataset, VOCSource, collate_episodes, denormalize,
                            episode_loader, fold_classes, open_source, resize_mask)

S = 12  # fixture images are S x S, so image_size=S keeps every pixel as stored


def grey(label):
    return np.where(label == 255, 250, label.astype(int) * 40).astype(np.uint8)


def save_png(array, path):
    im = Image.fromarray(np.asarray(array, dtype=np.uint8))
    im.putpalette([v for i in range(256) for v in (i, i, i)])
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)


def fixture_labels(n=9):
    """Asymmetric 12 x 12 maps: a block of class 1+k%3 with a 255 ring, a block of class 1+(k+1)%3,
    and class 4 (never an episode class here) in every third image."""
    labels = {}
    for k in range(n):
        lab = np.zeros((S, S), np.uint8)
        lab[0:7, 0:6] = 255
        lab[1:6, 1:5] = 1 + k % 3
        lab[8:11, 6:11] = 1 + (k + 1) % 3
        if k % 3 == 0:
            lab[9:12, 0:3] = 4
        labels[f"im{k}"] = lab
    return labels


def write_voc(root: Path, labels: dict, split="trainaug", image_sizes=None) -> Path:
    base = root / "VOCdevkit" / "VOC2012"
    for id_, lab in labels.items():
        inst = np.where((lab > 0) & (lab < 255), lab, 0).astype(np.uint8)  # one instance per class
        scr = np.full(lab.shape, 255, np.uint8)
        scr[lab == 0] = 0
        scr[(lab > 0) & (lab < 255)] = 7
        save_png(lab, base / "SegmentationClassAug" / f"{id_}.png")
        save_png(inst, base / "SegmentationObjectAug" / f"{id_}.png")
        save_png(scr, base / "ScribbleAugAuto" / f"{id_}.png")
        img = np.repeat(grey(lab)[..., None], 3, axis=2)
        if image_sizes and id_ in image_sizes:
            img = np.zeros(image_sizes[id_] + (3,), np.uint8)
        (base / "JPEGImages").mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(base / "JPEGImages" / f"{id_}.jpg", quality=100, subsampling=0)
    sets = base / "ImageSets" / "Segmentation"
    sets.mkdir(parents=True, exist_ok=True)
    (sets / f"{split}.txt").write_text("".join(f"{i}\n" for i in labels))
    return base


@pytest.fixture
def voc(tmp_path):
    labels = fixture_labels()
    write_voc(tmp_path, labels)
    return VOCSource(tmp_path, "trainaug"), labels


# ---- references written out pixel by pixel ----

def ref_support(label, c, episode_classes, include_ignore):
    fg = np.zeros(label.shape, bool)
    bg = np.zeros(label.shape, bool)
    for y in range(label.shape[0]):
        for x in range(label.shape[1]):
            v = int(label[y, x])
            fg[y, x] = v == c
            bg[y, x] = v != c and v not in episode_classes and (include_ignore or v != 255)
    return fg, bg


def ref_query(label, class_ids):
    out = np.zeros(label.shape, np.int64)
    for y in range(label.shape[0]):
        for x in range(label.shape[1]):
            v = int(label[y, x])
            out[y, x] = 255 if v == 255 else (class_ids.index(v) + 1 if v in class_ids else 0)
    return out


def test_episode_shapes_and_types(voc):
    src, _ = voc
    ds = EpisodeDataset(src, [1, 2, 3], ways=2, shots=2, queries=3, n_episodes=4, image_size=S)
    ep = ds[0]
    assert ep["support_images"].shape == (2, 2, 3, S, S) and ep["support_images"].dtype == torch.float32
    assert ep["support_fg"].shape == ep["support_bg"].shape == (2, 2, S, S)
    assert ep["query_images"].shape == (3, 3, S, S)
    assert ep["query_labels"].shape == (3, S, S) and ep["query_labels"].dtype == torch.int64
    assert ep["class_ids"].dtype == torch.int64 and len(set(ep["class_ids"].tolist())) == 2
    assert set(torch.unique(ep["support_fg"]).tolist()) <= {0.0, 1.0}
    assert set(torch.unique(ep["query_labels"]).tolist()) <= {0, 1, 2, 255}
    assert [len(s) for s in ep["support_ids"]] == [2, 2] and len(ep["query_ids"]) == 3
    assert len(ds) == 4
    with pytest.raises(IndexError):
        ds[4]


@pytest.mark.parametrize("include_ignore", [True, False])
def test_support_masks_and_query_labels_pixel_for_pixel(voc, include_ignore):
    src, labels = voc
    ds = EpisodeDataset(src, [1, 2, 3], ways=2, shots=2, queries=2, n_episodes=12, image_size=S,
                        support_bg_includes_ignore=include_ignore)
    for i in range(len(ds)):
        ep = ds[i]
        class_ids = ep["class_ids"].tolist()
        for n, c in enumerate(class_ids):
            for k, id_ in enumerate(ep["support_ids"][n]):
                fg, bg = ref_support(labels[id_], c, class_ids, include_ignore)
                assert np.array_equal(ep["support_fg"][n, k].numpy().astype(bool), fg)
                assert np.array_equal(ep["support_bg"][n, k].numpy().astype(bool), bg)
                # the image is the label's image (grey level encodes the label)
                img = denormalize(ep["support_images"][n, k])[0].numpy() * 255
                assert np.abs(img - grey(labels[id_])).max() < 4
        for q, id_ in enumerate(ep["query_ids"]):
            assert np.array_equal(ep["query_labels"][q].numpy(), ref_query(labels[id_], class_ids))


def test_ignore_pixels_are_support_background_by_default(voc):
    src, labels = voc
    on = EpisodeDataset(src, [1, 2, 3], n_episodes=3, image_size=S)[0]
    off = EpisodeDataset(src, [1, 2, 3], n_episodes=3, image_size=S, support_bg_includes_ignore=False)[0]
    ring = labels[on["support_ids"][0][0]] == 255
    assert ring.sum() > 0
    assert on["support_bg"][0, 0].numpy()[ring].all() and not off["support_bg"][0, 0].numpy()[ring].any()
    q_ring = labels[on["query_ids"][0]] == 255
    assert (on["query_labels"][0].numpy()[q_ring] == 255).all()


def test_supports_and_queries_contain_their_classes(voc):
    src, labels = voc
    ds = EpisodeDataset(src, [1, 2, 3], ways=3, shots=1, queries=3, n_episodes=10, image_size=S,
                        query_spread="episode")
    for i in range(len(ds)):
        ep = ds[i]
        class_ids = ep["class_ids"].tolist()
        for n, c in enumerate(class_ids):
            for k, id_ in enumerate(ep["support_ids"][n]):
                assert (labels[id_] == c).any() and ep["support_fg"][n, k].sum() > 0
            assert len(set(ep["support_ids"][n])) == 1
        for q, (id_, n) in enumerate(zip(ep["query_ids"], ep["query_ways"].tolist())):
            assert (ep["query_labels"][q] == n + 1).any()
            assert id_ not in ep["support_ids"][n]  # a way's supports and queries are distinct


def assert_same_episode(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], torch.Tensor):
            assert torch.equal(a[key], b[key]), key
        else:
            assert a[key] == b[key], key


def test_same_seed_same_episodes_in_any_order(voc):
    src, _ = voc
    kw = dict(ways=2, shots=1, queries=2, n_episodes=8, image_size=S, train=True)
    a, b = EpisodeDataset(src, [1, 2, 3], seed=7, **kw), EpisodeDataset(src, [1, 2, 3], seed=7, **kw)
    later = b[5]
    for i in range(8):
        assert_same_episode(a[i], b[i])
    assert_same_episode(a[5], later)
    c = EpisodeDataset(src, [1, 2, 3], seed=8, **kw)
    picks = lambda ds: [(ds[i]["support_ids"], ds[i]["query_ids"]) for i in range(8)]
    assert picks(a) != picks(c)


def test_episodes_are_fixed_by_seed_and_index_alone(voc):
    src, _ = voc
    ds = EpisodeDataset(src, [1, 2, 3], ways=2, shots=2, queries=1, seed=3, n_episodes=5, image_size=S)
    # the contract: np.random.default_rng((seed, i)), classes first, then each way's images
    rng = np.random.default_rng((3, 4))
    picked = rng.choice(3, size=2, replace=False)
    ep = ds.sample_ids(4)
    assert ep["class_ids"] == [[1, 2, 3][j] for j in picked]
    assert ds[4]["class_ids"].tolist() == ep["class_ids"] and ds[4]["query_ids"] == ep["query_ids"]


def test_loader_batches_are_the_same_for_any_worker_count(voc):
    src, _ = voc
    ds = EpisodeDataset(src, [1, 2, 3], ways=2, shots=1, queries=1, n_episodes=5, image_size=S, train=True)
    serial = list(episode_loader(ds, batch_size=2, num_workers=0))
    parallel = list(episode_loader(ds, batch_size=2, num_workers=2))
    assert [b["query_ids"] for b in serial] == [[ds[0]["query_ids"], ds[1]["query_ids"]],
                                                [ds[2]["query_ids"], ds[3]["query_ids"]],
                                                [ds[4]["query_ids"]]]
    for x, y in zip(serial, parallel):
        assert_same_episode(x, y)
    resumed = next(iter(episode_loader(ds, batch_size=1, start=3)))
    assert_same_episode(resumed, collate_episodes([ds[3]]))
    with pytest.raises(ValueError, match="start=6"):
        episode_loader(ds, start=6)


def test_training_flips_each_image_consistently(voc):
    src, labels = voc
    kw = dict(ways=2, shots=2, queries=2, n_episodes=6, image_size=S, seed=11)
    plain, flipped = EpisodeDataset(src, [1, 2, 3], **kw), EpisodeDataset(src, [1, 2, 3], train=True, **kw)
    n_flipped = n_kept = 0
    for i in range(6):
        a, b = plain[i], flipped[i]
        assert a["support_ids"] == b["support_ids"] and a["query_ids"] == b["query_ids"]
        pairs = [(a["support_images"][n, k], a["support_fg"][n, k], b["support_images"][n, k],
                  b["support_fg"][n, k]) for n in range(2) for k in range(2)]
        pairs += [(a["query_images"][q], a["query_labels"][q], b["query_images"][q], b["query_labels"][q])
                  for q in range(2)]
        for img_a, mask_a, img_b, mask_b in pairs:
            if torch.equal(mask_b, mask_a) and torch.equal(img_b, img_a):
                n_kept += 1
            else:
                assert torch.equal(mask_b, mask_a.flip(-1)) and torch.equal(img_b, img_a.flip(-1))
                n_flipped += 1
    assert n_flipped > 5 and n_kept > 5  # about half of 36 images each way


def test_query_spread_once_per_dataset_or_per_episode(voc):
    src, _ = voc
    once = EpisodeDataset(src, [1, 2, 3], ways=3, shots=1, queries=4, n_episodes=10, image_size=S)
    counts = {tuple(np.bincount(once[i]["query_ways"].numpy(), minlength=3)) for i in range(10)}
    assert len(counts) == 1 and sum(counts.pop()) == 4  # the original's fixed cnt_query
    per = EpisodeDataset(src, [1, 2, 3], ways=3, shots=1, queries=4, n_episodes=10, image_size=S,
                         query_spread="episode")
    counts = {tuple(np.bincount(per.sample_ids(i)["query_ways"], minlength=3)) for i in range(10)}
    assert len(counts) > 1


def test_resize_uses_nearest_labels(tmp_path):
    lab = np.zeros((10, 14), np.uint8)
    lab[2:7, 3:9] = 1
    lab[7, 3:9] = 255
    write_voc(tmp_path, {"a": lab, "b": lab.copy()})
    ds = EpisodeDataset(VOCSource(tmp_path, "trainaug"), [1], n_episodes=1, image_size=9)
    ep = ds[0]
    assert ep["query_images"].shape == (1, 3, 9, 9)
    small = resize_mask(lab, 9)
    assert np.array_equal(ep["query_labels"][0].numpy(), ref_query(small, [1]))
    assert np.array_equal(ep["support_fg"][0, 0].numpy().astype(bool), small == 1)


def hand_weak_maps(lab):
    """Instance and scribble maps of a fixture label whose weak masks differ from the dense ones:
    block A (rows 1-5, cols 1-4) is two instances (rows 1-2: id 1, rows 3-5: id 2, the larger),
    block B (rows 8-10, cols 6-10) holds one, on rows 8-9, cols 6-8 only (id 3); scribbles: A's object stroke on row 4 cols 1-3 (5),
    B's on row 9 cols 7-9 (6), background strokes on row 7 and on column 11 rows 0-6 (0)."""
    inst = np.zeros(lab.shape, np.uint8)
    inst[1:3, 1:5], inst[3:6, 1:5], inst[8:10, 6:9] = 1, 2, 3
    inst[(lab == 4)] = 4
    scr = np.full(lab.shape, 255, np.uint8)
    scr[4, 1:4], scr[9, 7:10] = 5, 6
    scr[7, :], scr[0:7, 11] = 0, 0
    return inst, scr


def test_weak_supports_through_the_dataset(tmp_path):
    labels = fixture_labels()
    base = write_voc(tmp_path, labels)
    for id_, lab in labels.items():
        inst, scr = hand_weak_maps(lab)
        save_png(inst, base / "SegmentationObjectAug" / f"{id_}.png")
        save_png(scr, base / "ScribbleAugAuto" / f"{id_}.png")
    src = VOCSource(tmp_path, "trainaug")
    block = {"A": (slice(1, 6), slice(1, 5)), "B": (slice(8, 11), slice(6, 11))}
    # the masks by hand, for a class in block A or block B of its support
    box_fg = {"A": np.zeros((S, S), bool), "B": np.zeros((S, S), bool)}
    box_fg["A"][3:6, 1:5] = True  # the larger instance's box only
    box_fg["B"][8:10, 6:9] = True
    box_bg = {"A": np.ones((S, S), bool), "B": ~box_fg["B"]}
    box_bg["A"][1:6, 1:5] = False  # outside the boxes of both instances
    scr_fg = {"A": np.zeros((S, S), bool), "B": np.zeros((S, S), bool)}
    scr_fg["A"][4, 1:4] = True
    scr_fg["B"][9, 7:10] = True
    scr_bg = np.zeros((S, S), bool)
    scr_bg[7, :], scr_bg[0:7, 11] = True, True
    seen = set()
    for train in (False, True):
        box = EpisodeDataset(src, [1, 2, 3], ways=2, n_episodes=6, image_size=S, annotation="bbox", train=train)
        scr = EpisodeDataset(src, [1, 2, 3], ways=2, n_episodes=6, image_size=S, annotation="scribble", train=train)
        dense = EpisodeDataset(src, [1, 2, 3], ways=2, n_episodes=6, image_size=S, train=train)
        for i in range(6):
            for ds, fg_of, bg_of in ((box, box_fg, lambda b: box_bg[b]), (scr, scr_fg, lambda b: scr_bg)):
                ep, ref = ds[i], dense[i]
                assert ep["support_ids"] == ref["support_ids"]  # the same episode, other annotation
                for n, c in enumerate(ep["class_ids"].tolist()):
                    lab = labels[ep["support_ids"][n][0]]
                    b = "A" if lab[block["A"]][0, 0] == c else "B"
                    fg, bg = ep["support_fg"][n, 0].numpy() > 0, ep["support_bg"][n, 0].numpy() > 0
                    flipped = not np.array_equal(ep["support_images"][n, 0], ref["support_images"][n, 0]) or \
                        not np.array_equal(ref["support_fg"][n, 0].numpy() > 0, lab == c)
                    want_fg, want_bg = fg_of[b], bg_of(b)
                    if flipped:  # a training flip turns the image and its maps together
                        want_fg, want_bg = want_fg[:, ::-1], want_bg[:, ::-1]
                    np.testing.assert_array_equal(fg, want_fg)
                    np.testing.assert_array_equal(bg, want_bg)
                    assert not np.array_equal(fg, ref["support_fg"][n, 0].numpy() > 0)  # not the dense mask
                    seen.add((ds.annotation, b, flipped))
    assert len(seen) == 8  # both rules, both blocks, flipped and not


def test_loading_errors_are_clear(tmp_path):
    labels = fixture_labels(4)
    write_voc(tmp_path, labels, image_sizes={"im1": (S, S + 2)})
    src = VOCSource(tmp_path, "trainaug")
    # class 4 (boat) is in im0 and im3 only
    with pytest.raises(ValueError, match=r"class 4 \(boat\) has 2 images.*needs 3"):
        EpisodeDataset(src, [1, 4], shots=2, queries=1, image_size=S)
    with pytest.raises(ValueError, match="ways=4 but only 3 classes"):
        EpisodeDataset(src, [1, 2, 3], ways=4, image_size=S)
    with pytest.raises(ValueError, match="annotation must be one of"):
        EpisodeDataset(src, [1, 2], annotation="points", image_size=S)
    with pytest.raises(ValueError, match="shots must be a positive integer"):
        EpisodeDataset(src, [1, 2], shots=0)
    ds = EpisodeDataset(src, [1, 2, 3], ways=3, shots=1, queries=1, n_episodes=30, image_size=S)
    with pytest.raises(ValueError, match=r"image 'im1' is 14x12 \(WxH\) but its label is 12x12"):
        for i in range(len(ds)):
            ds[i]


def test_real_voc_masks_episodes_draw_from_the_right_lists(shared_data):
    src = VOCSource(shared_data / "voc2012-masks", "val", labels_only=True)
    ds = EpisodeDataset(src, fold_classes("pascal", 1, train=False), ways=2, shots=5, queries=2,
                        n_episodes=20, seed=1234)
    for i in range(20):
        ep = ds.sample_ids(i)
        assert set(ep["class_ids"]) <= set(range(6, 11))
        for n, c in enumerate(ep["class_ids"]):
            ids = ep["support_ids"][n] + [q for q, w in zip(ep["query_ids"], ep["query_ways"]) if w == n]
            assert len(set(ids)) == len(ids)
            for id_ in ids:
                assert c in src.classes_in(id_)


def test_real_camvid_episode_batch(shared_data):
    src = open_source("camvid", shared_data / "camvid", "test")
    ds = EpisodeDataset(src, fold_classes("camvid", 0, train=False), ways=2, shots=1, queries=1,
                        n_episodes=2, image_size=65)
    batch = collate_episodes([ds[0], ds[1]])
    assert batch["support_images"].shape == (2, 2, 1, 3, 65, 65)
    for b in range(2):
        for n, c in enumerate(batch["class_ids"][b].tolist()):
            assert c in src.classes_in(batch["support_ids"][b][n][0])
    assert set(torch.unique(batch["query_labels"]).tolist()) <= {0, 1, 2, 255}


def test_synthetic_episode_through_panet(synthetic_voc_root):
    import panet_min
    from panet_min.backbone import small_encoder
    src = open_source("synthetic", synthetic_voc_root, "trainaug")
    ds = EpisodeDataset(src, fold_classes("synthetic", 0, train=False), ways=1, shots=1, queries=1,
                        n_episodes=2, image_size=49)
    # the generated set is recorded as such, even when opened as "pascal"
    assert ds.info()["dataset"] == "synthetic" and ds.info()["split"] == "trainaug"
    assert open_source("pascal", synthetic_voc_root, "val").dataset == "synthetic"
    batch = collate_episodes([ds[0], ds[1]])
    assert batch["support_images"].shape == (2, 1, 1, 3, 49, 49)
    assert batch["support_fg"].flatten(1).sum(1).min() > 0  # every support shows its class
    torch.manual_seed(0)
    model = panet_min.PANet(encoder=small_encoder()).eval()
    with torch.no_grad():
        out = model(batch["support_images"], batch["support_fg"], batch["support_bg"],
                    batch["query_images"])
    assert out.logits.shape == (2, 1, 2, 49, 49)
    loss = panet_min.query_loss(out.logits, batch["query_labels"])
    assert torch.isfinite(loss)


COCO_IDS = [i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools vs numpy 2
def test_coco_episodes_see_only_their_own_class(tmp_path):
    import json
    (tmp_path / "annotations").mkdir()
    (tmp_path / "train2014").mkdir()
    rect = lambda x0, y0, x1, y1: [[x0, y0, x1, y0, x1, y1, x0, y1]]
    # image 1: dog (cat 18 = global 17) and toothbrush (cat 90 = global 80); 2: toothbrush; 3: dog
    anns = [(1, 1, 18, rect(0, 0, 6, 6)), (2, 1, 90, rect(6, 6, 12, 12)),
            (3, 2, 90, rect(2, 2, 9, 9)), (4, 3, 18, rect(3, 0, 12, 5))]
    data = {"images": [{"id": i, "file_name": f"{i}.jpg", "height": 12, "width": 12} for i in (1, 2, 3)],
            "annotations": [{"id": a, "image_id": im, "category_id": cat, "segmentation": seg,
                             "iscrowd": 0, "area": 1.0, "bbox": [0, 0, 1, 1]} for a, im, cat, seg in anns],
            "categories": [{"id": i, "name": f"c{i}"} for i in COCO_IDS]}
    (tmp_path / "annotations" / "instances_train2014.json").write_text(json.dumps(data))
    for i in (1, 2, 3):
        Image.fromarray(np.full((12, 12, 3), 90, np.uint8)).save(tmp_path / "train2014" / f"{i}.jpg")
    src = open_source("coco", tmp_path, "train")
    ds = EpisodeDataset(src, [17, 80], ways=2, shots=1, queries=1, n_episodes=6, image_size=12,
                        query_spread="episode")
    with pytest.raises(ValueError, match="annotation='bbox' needs"):
        EpisodeDataset(src, [17, 80], annotation="bbox", image_size=12)
    for i in range(6):
        ep = ds[i]
        class_ids = ep["class_ids"].tolist()
        for n, c in enumerate(class_ids):
            mask = src.class_mask(ep["support_ids"][n][0], c)
            assert mask.any()
            assert np.array_equal(ep["support_fg"][n, 0].numpy().astype(bool), mask)
            assert np.array_equal(ep["support_bg"][n, 0].numpy().astype(bool), ~mask)
        for q, (id_, n) in enumerate(zip(ep["query_ids"], ep["query_ways"].tolist())):
            expected = src.class_mask(id_, class_ids[n]).astype(np.int64) * (n + 1)
            assert np.array_equal(ep["query_labels"][q].numpy(), expected)  # the other class: 0


def test_synthetic_supports_and_queries_contain_their_classes(synthetic_voc_root):
    for split, train in (("trainaug", True), ("val", False)):
        src = open_source("synthetic", synthetic_voc_root, split)
        ds = EpisodeDataset(src, fold_classes("synthetic", 2, train=train), ways=2, shots=1, queries=2,
                            n_episodes=4, image_size=128, train=train, seed=5)
        for i in range(4):
            ep = ds[i]
            assert set(ep["class_ids"].tolist()) <= set(fold_classes("synthetic", 2, train))
            for n in range(2):
                assert ep["support_fg"][n, 0].sum() > 0 and ep["support_bg"][n, 0].sum() > 0
            for q, n in enumerate(ep["query_ways"].tolist()):
                assert (ep["query_labels"][q] == n + 1).any()


class _TinyObjectSource:
    """Two 40x40 images of class 1: one with a 20x20 object, one with a 1-pixel object that
    vanishes when resized to 8x8 (nearest)."""
    dataset, root, split, has_labels = "pascal", "memory", "train", True
    ids = ["big", "tiny"]

    def check_class(self, c):
        return int(c)

    def class_list(self, c):
        return list(self.ids)

    def image(self, id_):
        return np.zeros((40, 40, 3), np.uint8)

    def label(self, id_):
        lab = np.zeros((40, 40), np.uint8)
        if id_ == "big":
            lab[10:30, 10:30] = 1
        else:
            lab[1, 1] = 1
        return lab


def test_episode_with_a_vanished_support_is_redrawn_deterministically():
    ds = EpisodeDataset(_TinyObjectSource(), [1], shots=1, queries=1, n_episodes=30, seed=3, image_size=8)
    redrawn = 0
    for i in range(30):
        ep = ds[i]
        assert ep["support_fg"].sum() > 0  # never an empty support
        assert ep["support_ids"] == [["big"]]
        redrawn += ep["redraws"] > 0
        assert torch.equal(ds[i]["query_labels"], ep["query_labels"])  # same episode again
    assert redrawn > 0  # about half the first draws picked the tiny support


def test_an_episode_that_can_never_be_valid_names_the_problem():
    class Vanishing(_TinyObjectSource):
        ids = ["tiny", "tiny2"]
    ds = EpisodeDataset(Vanishing(), [1], n_episodes=1, image_size=8)
    with pytest.raises(ValueError, match="empty foreground mask at 8 x 8"):
        ds[0]
