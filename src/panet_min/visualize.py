"""Seeing predictions: ``python -m panet_min.evaluate ... --visualize DIR [--visualize-count N]``.

For the first N episodes of run 0, one PNG each, ``DIR/episode-0000.png`` ...: the supports with
their masks, the query with its ground truth and with the prediction, and the episode's mean-IoU
(:class:`~panet_min.metrics.FewShotMeter` over this one episode: the IoU of each way's class,
averaged). Run 0 draws the same episodes for every model, so two folders written for two models
compare picture by picture. ``DIR/episodes.json`` lists them: file, class names, episode mean-IoU.
"""
from __future__ import annotations

import json
from pathlib import Path

from .metrics import FewShotMeter


def episode_iou(prediction, labels, class_ids, n_classes: int) -> float | None:
    """Mean-IoU of one episode: ``prediction``/``labels [Q,H,W]`` (0..N, 255), its ``class_ids [N]``;
    None when no query shows any of the episode's classes."""
    meter = FewShotMeter(n_classes)
    meter.record(prediction, labels, class_ids)
    return meter.mean_iou(class_ids)[1] if meter.seen(class_ids) else None


class EpisodeWriter:
    """Called once per evaluated episode; writes the first ``count`` as PNGs into ``folder``.

    ``class_names``: the dataset's names (index = global id - 1). ``note``: a line under each
    title (what model drew it).
    """

    def __init__(self, folder, count: int, class_names, n_classes: int, note: str = ""):
        if count < 1:
            raise ValueError(f"--visualize-count must be positive, got {count!r}")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count, self.names, self.n_classes, self.note = count, class_names, n_classes, note
        self.written: list[Path] = []
        self.index: list[dict] = []

    @property
    def done(self) -> bool:
        return len(self.written) >= self.count

    def __call__(self, batch: dict, index: int, prediction) -> None:
        """Episode ``index`` of the collated ``batch`` and its ``prediction [Q,H,W]``."""
        if self.done:
            return
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        from .viz.overlays import show_episode

        i = len(self.written)
        episode = {k: batch[k][index].cpu() for k in ("support_images", "support_fg", "support_bg",
                                                       "query_images", "query_labels", "class_ids")}
        prediction = prediction.cpu()
        iou = episode_iou(prediction, episode["query_labels"], episode["class_ids"], self.n_classes)
        names = ", ".join(self.names[int(c) - 1] for c in episode["class_ids"])
        score = "no class pixel in the query" if iou is None else f"mean-IoU {iou:.3f}"
        title = f"episode {i}: {names}, {score}" + (f"\n{self.note}" if self.note else "")
        fig = show_episode(episode, prediction, self.names, title=title)
        path = self.folder / f"episode-{i:04d}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        self.written.append(path)
        self.index.append({"file": path.name, "episode": i, "classes": [int(c) for c in episode["class_ids"]],
                           "class_names": names.split(", "), "mean_iou": iou, "model": self.note})
        (self.folder / "episodes.json").write_text(json.dumps(self.index, indent=1) + "\n")


def to_jpeg(png, jpeg, width: int = 700, quality: int = 80) -> Path:
    """A small copy of a ``--visualize`` picture for the book: ``width`` pixels wide (aspect kept),
    JPEG ``quality``. Returns the path written."""
    from PIL import Image

    with Image.open(png) as im:
        im = im.convert("RGB")
        if im.width > width:
            im = im.resize((width, round(im.height * width / im.width)), Image.LANCZOS)
        Path(jpeg).parent.mkdir(parents=True, exist_ok=True)
        im.save(jpeg, quality=quality, optimize=True)
    return Path(jpeg)


def pick_pairs(before, after, out, prefix: str, n: int = 3, width: int = 700) -> list[dict]:
    """``n`` episodes of two ``--visualize`` folders of the same episodes (``before``: e.g. no
    training, ``after``: trained): the ``n - 1`` with the largest gain of IoU and the one with the
    largest loss (when some episode lost; else the ``n`` largest gains), copied as JPEGs
    ``out/<prefix>-{before,after}-episode-NNNN.jpg`` and listed in ``out/<prefix>-pairs.json``
    (episode, class names, both IoUs, files, both models), in episode order. Folders that drew
    different episodes -> ValueError."""
    a = json.loads((Path(before) / "episodes.json").read_text())
    b = json.loads((Path(after) / "episodes.json").read_text())
    common = []
    for x, y in zip(a, b):
        if x["classes"] != y["classes"]:
            raise ValueError(f"episode {x['episode']} has classes {x['classes']} in {before} but "
                             f"{y['classes']} in {after}: evaluate both with the same seed and protocol")
        if x["mean_iou"] is not None and y["mean_iou"] is not None:
            common.append((x, y))
    by_gain = sorted(common, key=lambda p: p[0]["mean_iou"] - p[1]["mean_iou"])  # largest gain first
    lost = by_gain[-1:] if by_gain and by_gain[-1][1]["mean_iou"] < by_gain[-1][0]["mean_iou"] else []
    chosen = [p for p in by_gain if p not in lost][: n - len(lost)] + lost if n > 1 else by_gain[:n]
    out = Path(out)
    pairs = []
    for x, y in sorted(chosen, key=lambda p: p[0]["episode"]):
        files = {}
        for key, folder, entry in (("before", before, x), ("after", after, y)):
            name = f"{prefix}-{key}-episode-{entry['episode']:04d}.jpg"
            to_jpeg(Path(folder) / entry["file"], out / name, width=width)
            files[f"{key}_file"] = name
        pairs.append({"episode": x["episode"], "class_names": x["class_names"], "before": x["mean_iou"],
                      "after": y["mean_iou"], "before_model": x["model"], "after_model": y["model"], **files})
    (out / f"{prefix}-pairs.json").write_text(json.dumps(pairs, indent=1) + "\n")
    return pairs


__all__ = ["EpisodeWriter", "episode_iou", "to_jpeg", "pick_pairs"]
