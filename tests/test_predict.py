"""The predictor for your own images: the same numbers as the batched model on a real MSRC episode,
the annotation rules of the episodes, images of any kind, and one clear line for each bad input."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import panet_min
from panet_min import PANet, Predictor, small_encoder
from panet_min.data import EpisodeDataset, fold_classes, open_source, resize_image
from panet_min.data.classlists import read_label
from panet_min.predict import main
from panet_min.supports import Support, read_image, read_mask, support_arrays

S = 121  # small enough for a CPU test, large enough for VGG-16's 8x output stride


# one thread: fast and bit-reproducible on a shared 2-core machine (conftest.one_thread)
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def vgg():
    return panet_min.load()  # the pinned ImageNet VGG-16, untrained for few-shot


@pytest.fixture(scope="module")
def msrc_episode(msrc_root):
    source = open_source("msrc", msrc_root / "msrc", "all")
    ds = EpisodeDataset(source, fold_classes("msrc", 0, train=False), ways=1, shots=1, n_episodes=3, image_size=S)
    return source, ds[2]


def test_the_predictor_is_the_batched_model_on_a_real_msrc_episode(vgg, msrc_episode):
    source, ep = msrc_episode
    c, sid, qid = int(ep["class_ids"][0]), ep["support_ids"][0][0], ep["query_ids"][0]
    support = Support(source.image(sid), mask=source.label(sid) == c)  # the photo at its own size
    predictor = Predictor(vgg, image_size=S)
    query = source.image(qid)
    # the tensors it builds are the episode's, bit for bit (same resize, normalisation, mask rule)
    batch, _, _ = predictor.episode([support], query)
    for key in ("support_images", "support_fg", "support_bg", "query_images"):
        assert torch.equal(batch[key][0], ep[key]), key
    with torch.no_grad():
        logits = vgg(ep["support_images"][None], ep["support_fg"][None], ep["support_bg"][None],
                     ep["query_images"][None]).logits[0, 0]  # [2, S, S]
    # a query already at S x S: the model's own prediction and softmax
    at_s = predictor.segment([support], resize_image(query, S))
    assert at_s.labels.shape == (S, S) and at_s.labels.dtype == np.uint8
    np.testing.assert_array_equal(at_s.labels, logits.argmax(0).numpy())
    np.testing.assert_allclose(at_s.probabilities[0], logits.softmax(0)[1].numpy(), atol=1e-6)
    assert 0.02 < (at_s.labels == 1).mean() < 0.98  # a real answer, not all one label
    # the query at its own size: the same logits, upsampled bilinearly, then softmax and argmax
    full = predictor.segment([support], query)
    H, W = query.shape[:2]
    up = F.interpolate(logits[None], size=(H, W), mode="bilinear", align_corners=False)[0]
    assert full.labels.shape == (H, W) and full.probabilities.shape == (1, H, W)
    assert full.probabilities.dtype == np.float32
    np.testing.assert_array_equal(full.labels, up.argmax(0).numpy())
    np.testing.assert_allclose(full.probabilities[0], up.softmax(0)[1].numpy(), atol=1e-6)
    np.testing.assert_allclose(full.foreground, full.probabilities[0])
    overlay = full.overlay()
    assert overlay.size == (W, H) and overlay.mode == "RGB"
    tinted = np.asarray(overlay)[full.labels == 1].astype(int) - query[full.labels == 1]
    assert np.abs(tinted).mean() > 10 and (np.asarray(overlay)[full.labels == 0] == query[full.labels == 0]).all()


# ---- annotations: the episodes' rules, at the model's size ----

def test_a_box_is_the_box_rule_and_a_mask_the_dense_rule():
    # at the image's own size nothing is resized: the box covers columns 5..12 and rows 4..9
    _, fg, bg = support_arrays(Support(np.zeros((20, 20, 3), np.uint8), box=(5, 4, 12.5, 10)), 20, "s")
    want = np.zeros((20, 20), bool)
    want[4:10, 5:13] = True
    np.testing.assert_array_equal(fg, want)
    np.testing.assert_array_equal(bg, ~want)
    mask = np.zeros((20, 20), np.uint8)
    mask[2:6, 3:5] = 255  # nonzero = foreground
    _, fg, bg = support_arrays(Support(np.zeros((20, 20, 3), np.uint8), mask=mask), 20, "s")
    np.testing.assert_array_equal(fg, mask > 0)
    np.testing.assert_array_equal(bg, mask == 0)
    # a given background replaces the rule's (minus the foreground)
    background = np.zeros((20, 20), bool)
    background[0:4, :] = True
    _, fg, bg = support_arrays(Support(np.zeros((20, 20, 3), np.uint8), mask=mask, background=background), 20, "s")
    np.testing.assert_array_equal(bg, background & (mask == 0))


def test_scribbles_are_one_pixel_polylines_drawn_at_the_model_size():
    image = np.zeros((40, 40, 3), np.uint8)
    _, fg, bg = support_arrays(Support(image, scribble="4,10 20,10"), 40, "s")
    want = np.zeros((40, 40), bool)
    want[10, 4:21] = True
    np.testing.assert_array_equal(fg, want)
    np.testing.assert_array_equal(bg, ~want)  # no background strokes: every pixel off the strokes
    # two strokes, a background stroke; at half size the points are scaled, the line stays 1 pixel wide
    _, fg, bg = support_arrays(Support(image, scribble=[[(5, 5), (5, 33)], "30,1 30,3"],
                                       background=["37,2 37,37"]), 20, "s")
    assert fg[:, 2].sum() == 15 and fg[:, 15].sum() == 2 and fg.sum() == 17
    # x' = (x + 0.5) S / W - 0.5: the stroke x = 37, y = 2..37 lands on column 18, rows 1..18
    assert bg.sum() == 18 and bg[1:19, 18].all() and not (fg & bg).any()


def test_images_of_any_kind_become_rgb_with_exif_orientation(tmp_path):
    rgb = np.zeros((8, 12, 3), np.uint8)
    rgb[:, :6, 0] = 200  # left half red, right half blue, brighter downwards: every turn shows
    rgb[:, 6:, 2] = 200
    rgb[:, :, 1] = np.arange(8)[:, None] * 30
    assert read_image(rgb[..., 0]).shape == (8, 12, 3)  # grey array
    assert (read_image(np.dstack([rgb, np.zeros((8, 12), np.uint8)])) == rgb).all()  # RGBA array
    assert read_image(Image.fromarray(rgb).convert("P")).shape == (8, 12, 3)  # palette image
    assert read_image(Image.fromarray(rgb[..., 0], "L")).shape == (8, 12, 3)
    # a photo whose EXIF says "rotate 90 degrees clockwise to show it" (orientation 6)
    path = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(rgb).save(path, exif=exif, quality=100, subsampling=0)
    shown = read_image(path)
    assert shown.shape == (12, 8, 3)
    assert np.abs(shown.astype(int) - np.rot90(rgb, k=-1)).mean() < 8  # JPEG: close, not exact
    # a mask file: nonzero = foreground, whatever the mode
    m = np.zeros((8, 12), np.uint8)
    m[2:4, 3:9] = 7
    Image.fromarray(m).save(tmp_path / "m.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "m.png"), m > 0)
    Image.fromarray(np.dstack([m * 30] * 3)).save(tmp_path / "m_rgb.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "m_rgb.png"), m > 0)


def test_n_way_supports_give_one_label_per_way():
    torch.manual_seed(0)
    predictor = Predictor(PANet(small_encoder(8)), image_size=32)
    img = np.random.default_rng(1).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    out = predictor.segment({"left": [Support(img, box=(0, 0, 20, 40))], "right": [Support(img, box=(30, 0, 50, 40))]},
                            img)
    assert out.classes == ["left", "right"] and out.probabilities.shape == (2, 40, 50)
    assert set(np.unique(out.labels)) <= {0, 1, 2}
    np.testing.assert_array_equal(out.labels, np.argmax(np.concatenate(
        [1 - out.foreground[None], out.probabilities]), axis=0))
    with pytest.raises(ValueError, match="same number of supports"):
        predictor.segment([[Support(img, box=(0, 0, 5, 5))], [Support(img, box=(0, 0, 5, 5))] * 2], img)


# ---- the command line ----

def write(path, array):
    Image.fromarray(array).save(path)
    return str(path)


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    img = write(tmp_path / "s.png", rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    query = write(tmp_path / "q.jpg", rng.integers(0, 255, (50, 70, 3), dtype=np.uint8))
    mask = np.zeros((48, 64), np.uint8)
    mask[10:30, 20:40] = 1
    return {"img": img, "query": query, "mask": write(tmp_path / "m.png", mask),
            "empty": write(tmp_path / "empty.png", np.zeros((48, 64), np.uint8)),
            "small_mask": write(tmp_path / "small.png", mask[:40]), "dir": tmp_path}


FAST = ["--weights", "none", "--backbone", "small", "--image-size", "32", "--device", "cpu"]


def run(argv, capsys):
    code = main(FAST + argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_command_line_writes_the_overlay_and_the_label_map(files, capsys):
    out, mask_out = files["dir"] / "o.png", files["dir"] / "mask.png"
    code, stdout, err = run(["--support", files["img"], "--support-mask", files["mask"],
                             "--support", files["img"], "--support-scribble", "20,15 38,25", "--support-scribble", "22,20",
                             "--query", files["query"], "--out", str(out), "--mask-out", str(mask_out)], capsys)
    assert code == 0, err
    assert Image.open(out).size == (70, 50)
    labels = read_label(mask_out)
    assert labels.shape == (50, 70) and set(np.unique(labels)) <= {0, 1}
    assert "2 supports" in stdout and str(out) in stdout


@pytest.mark.parametrize("argv, message", [
    (["--support", "{dir}/nope.jpg", "--support-box", "1,1,5,5"], "image not found: {dir}/nope.jpg"),
    (["--support", "{dir}/text.jpg", "--support-box", "1,1,5,5"], "{dir}/text.jpg is not an image file"),
    (["--support", "{img}", "--support-mask", "{empty}"], "the mask has no foreground pixel"),
    (["--support", "{img}", "--support-mask", "{dir}/gone.png"], "mask not found: {dir}/gone.png"),
    (["--support", "{img}", "--support-box", "10,10,80,20"], "reaches outside the 64x48 image"),
    (["--support", "{img}", "--support-box", "10,10,10,20"], "is empty: it needs x1 > x0"),
    (["--support", "{img}", "--support-mask", "{small_mask}"], "the mask is 64x40 but its image is 64x48"),
    (["--support", "{img}", "--support-scribble", "10,10 64,20"], "scribble point (64, 20) lies outside the 64x48"),
    (["--support", "{img}"], "--support {img} has no annotation"),
    (["--support-box", "1,1,5,5", "--support", "{img}"], "comes before any --support IMG"),
    (["--support", "{img}", "--support-box", "1,1,five,5"], "is not four numbers"),
    (["--support", "{img}", "--support-box", "1,1,5,5"], "query image not found: {dir}/gone.jpg"),
])
def test_bad_input_is_one_line_and_exit_2(files, capsys, argv, message):
    (files["dir"] / "text.jpg").write_text("not a picture")
    query = files["query"] if "query" not in message else str(files["dir"] / "gone.jpg")
    argv = [a.format(**files) for a in argv] + ["--query", query, "--out", str(files["dir"] / "o.png")]
    code, _, err = run(argv, capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("python -m panet_min.predict: error: ")
    assert message.format(**files) in lines[0]
    assert not (files["dir"] / "o.png").exists()
