"""CachedEncoder: the same features as the encoder, each distinct image encoded once, evaluation only;
evaluate(cache_features=True) gives the numbers of an uncached evaluation; --visualize draws episodes."""
import json
import sys
from pathlib import Path

import pytest
import torch

from panet_min.backbone import build_encoder
from panet_min.evaluate import evaluate
from panet_min.feature_cache import CachedEncoder
from panet_min.visualize import episode_iou, to_jpeg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_evaluate import tiny

pytestmark = pytest.mark.usefixtures("one_thread")


class Counting(torch.nn.Module):
    """The small encoder, counting the images it is given."""

    def __init__(self):
        super().__init__()
        self.inner = build_encoder("small")
        self.weights_info, self.seen = "random small", 0

    def forward(self, x):
        self.seen += len(x)
        return self.inner(x)


def test_same_features_each_image_once():
    torch.manual_seed(0)
    enc = Counting().eval()
    cached = CachedEncoder(enc)
    a, b = torch.randn(2, 3, 32, 32).unbind()
    batch = torch.stack([a, b, a])  # a twice in one batch
    with torch.inference_mode():
        direct = enc.inner(batch)
        got = cached(batch)
        assert enc.seen == 2  # a once, b once
        assert torch.allclose(got, direct, atol=1e-6)
        again = cached(torch.stack([b, a]))
        assert enc.seen == 2 and torch.equal(again, torch.stack([got[1], got[0]]))
        c = a.clone()
        c[0, 0, 0] += 1e-3  # one changed pixel is another image
        cached(c[None])
        assert enc.seen == 3 and (cached.hits, cached.misses) == (3, 3)
    assert cached.weights_info == "random small"


def test_refuses_gradients_and_bounds_memory():
    enc = build_encoder("small")
    with pytest.raises(RuntimeError, match="no_grad"):
        CachedEncoder(enc)(torch.randn(1, 3, 32, 32))
    small = CachedEncoder(enc, max_items=2)
    with torch.no_grad():
        for _ in range(4):
            small(torch.randn(1, 3, 32, 32))
    assert len(small.cache) == 2
    with pytest.raises(ValueError, match="max_items"):
        CachedEncoder(enc, max_items=0)


def test_cached_evaluation_gives_the_same_numbers(synthetic_voc_root, tmp_path):
    plain = evaluate(tiny(synthetic_voc_root, tmp_path / "plain.json", episodes=8))
    cached = evaluate(tiny(synthetic_voc_root, tmp_path / "cached.json", episodes=8, cache_features=True))
    assert cached["config"]["cache_features"] is True
    for p, c in zip(plain["runs"], cached["runs"]):
        assert c["mean_iou"] == pytest.approx(p["mean_iou"], abs=1e-6)
        assert c["binary_iou"] == pytest.approx(p["binary_iou"], abs=1e-6)


def test_visualize_draws_the_first_episodes(synthetic_voc_root, tmp_path):
    folder = tmp_path / "pictures"
    evaluate(tiny(synthetic_voc_root, tmp_path / "r.json", episodes=6, visualize=str(folder), visualize_count=4))
    files = sorted(p.name for p in folder.iterdir())
    assert files == sorted(["episodes.json"] + [f"episode-{i:04d}.png" for i in range(4)])
    pngs = [folder / f for f in files if f.endswith(".png")]
    assert all(p.stat().st_size > 5000 for p in pngs)  # a drawn figure, not an empty file
    index = json.loads((folder / "episodes.json").read_text())
    assert [e["file"] for e in index] == [p.name for p in pngs]
    assert all(e["mean_iou"] is None or 0 <= e["mean_iou"] <= 1 for e in index)
    small = to_jpeg(pngs[0], tmp_path / "small.jpg", width=300)
    from PIL import Image

    with Image.open(small) as im, Image.open(pngs[0]) as big:
        assert im.format == "JPEG" and im.width == 300
        assert abs(im.height / im.width - big.height / big.width) < 0.01


def test_episode_iou():
    labels = torch.tensor([[[0, 1, 1, 255]]])
    assert episode_iou(torch.tensor([[[0, 1, 0, 0]]]), labels, [3], 20) == pytest.approx(0.5)
    assert episode_iou(torch.tensor([[[0, 1, 1, 1]]]), labels, [3], 20) == pytest.approx(1.0)
    assert episode_iou(torch.zeros(1, 1, 4, dtype=torch.long), torch.tensor([[[0, 0, 0, 255]]]), [3], 20) is None


def test_pick_pairs_takes_the_largest_changes(tmp_path):
    from PIL import Image

    from panet_min.visualize import pick_pairs

    for name, ious in (("a", [0.1, 0.5, 0.9, None, 0.4]), ("b", [0.8, 0.5, 0.2, 0.3, 0.6])):
        folder = tmp_path / name
        folder.mkdir()
        index = []
        for i, iou in enumerate(ious):
            Image.new("RGB", (800, 200)).save(folder / f"episode-{i:04d}.png")
            index.append({"file": f"episode-{i:04d}.png", "episode": i, "classes": [1], "class_names": ["x"],
                          "mean_iou": iou, "model": name})
        (folder / "episodes.json").write_text(json.dumps(index))
    pairs = pick_pairs(tmp_path / "a", tmp_path / "b", tmp_path / "out", "p", n=2)
    assert [p["episode"] for p in pairs] == [0, 2]  # the largest gain, the largest loss (3: no IoU before)
    gains = pick_pairs(tmp_path / "a", tmp_path / "b", tmp_path / "out", "g", n=3)
    assert [p["episode"] for p in gains] == [0, 2, 4]
    assert (tmp_path / "out" / "p-after-episode-0002.jpg").is_file()
    assert json.loads((tmp_path / "out" / "p-pairs.json").read_text()) == pairs
    index = json.loads((tmp_path / "b" / "episodes.json").read_text())
    index[1]["classes"] = [2]
    (tmp_path / "b" / "episodes.json").write_text(json.dumps(index))
    with pytest.raises(ValueError, match="same seed"):
        pick_pairs(tmp_path / "a", tmp_path / "b", tmp_path / "out", "p")
