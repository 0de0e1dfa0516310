"""N-way K-shot episodes, sampled as the original code samples them, but reproducible per episode.

Episode i of an ``EpisodeDataset`` (rule of the original ``voc_fewshot`` + ``PairedDataset``):

1. draw N distinct classes of ``classes`` (the fold's class set); their order is the way order;
2. for way n, draw K + Q_n distinct images from class n's class-wise list: the first K are the
   way's supports, the rest its queries (an image may still appear in two ways, as originally);
3. supports of way n: fg = pixels of class n; bg = pixels that are not class n, *including* the
   255 border pixels (``support_bg_includes_ignore``), minus the pixels of the other episode
   classes; query label: episode class n -> n (1..N), 255 kept, everything else 0.
   COCO: each image carries only the binary map of its own way's class (no 255, no other class);
4. every image is resized to ``image_size`` (bilinear image, nearest maps) and, when ``train``,
   flipped left-right with probability 1/2, independently per image; ImageNet normalisation.

Q_n, the number of queries of way n: the original draws the split of the Q queries over the N
ways **once per dataset** (so every episode has the same Q_n); ``query_spread="episode"`` draws it
per episode instead. With 1 way or 1 query both are the same.

Reproducibility (not in the original, which draws every episode up front from Python's global
``random``): episode i uses ``np.random.default_rng((seed, i))`` alone, so ``ds[i]`` is the same on
any machine, in any order, with any number of DataLoader workers; ``episode_loader(start=s)``
resumes a run at episode s. The episodes are therefore *not* the original's episodes, only drawn
by the same rule.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .folds import class_names
from .sources import check_same_size
from .transforms import hflip, normalize, resize_image, resize_mask
from .weak import bbox_support, dense_support, dilate_scribble, resize_scribble, scribble_support

ANNOTATIONS = ("mask", "scribble", "bbox")
# The tensors of an episode that go to the device (the rest are ids, for plotting).
TENSOR_KEYS = ("support_images", "support_fg", "support_bg", "query_images", "query_labels")
# How often an episode with an empty support foreground is redrawn before giving up.
MAX_REDRAWS = 20


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class EpisodeDataset(Dataset):
    """Episodes of one source: ``ds[i]`` -> dict of tensors (see ``__getitem__``), ``len(ds) = n_episodes``.

    source: a Source (``open_source``); classes: global ids to draw ways from (a fold's set).
    annotation: support masks from dense labels ("mask"), scribbles or boxes (VOC layout only).
    scribble_antialias / scribble_dilation: the original's scribble resize filter and optional
    minimum filter (see ``weak.resize_scribble`` / ``weak.dilate_scribble``); off by default.
    """

    def __init__(self, source, classes, ways: int = 1, shots: int = 1, queries: int = 1,
                 n_episodes: int = 1000, seed: int = 1234, image_size: int = 417,
                 train: bool = False, annotation: str = "mask",
                 support_bg_includes_ignore: bool = True, query_spread: str = "dataset",
                 scribble_antialias: bool = False, scribble_dilation: int = 0):
        self.source = source
        self.classes = [source.check_class(c) for c in classes]
        if len(set(self.classes)) != len(self.classes) or not self.classes:
            raise ValueError(f"classes must be distinct global ids, got {list(classes)!r}")
        self.ways = _positive_int("ways", ways)
        self.shots = _positive_int("shots", shots)
        self.queries = _positive_int("queries", queries)
        self.n_episodes = _positive_int("n_episodes", n_episodes)
        self.image_size = _positive_int("image_size", image_size)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.seed = int(seed)
        if self.ways > len(self.classes):
            raise ValueError(f"ways={self.ways} but only {len(self.classes)} classes to draw from")
        if annotation not in ANNOTATIONS:
            raise ValueError(f"annotation must be one of {ANNOTATIONS}, got {annotation!r}")
        if annotation != "mask" and not hasattr(source, annotation if annotation == "scribble"
                                                else "instances"):
            raise ValueError(f"annotation={annotation!r} needs scribble/instance maps, which "
                             f"{source.dataset} sources do not have (VOC layout only)")
        if query_spread not in ("dataset", "episode"):
            raise ValueError(f"query_spread must be 'dataset' or 'episode', got {query_spread!r}")
        self.train, self.annotation = bool(train), annotation
        self.support_bg_includes_ignore = bool(support_bg_includes_ignore)
        self.query_spread = query_spread
        self.scribble_antialias, self.scribble_dilation = bool(scribble_antialias), int(scribble_dilation)

        # Q_n drawn once per dataset, like the original's cnt_query (from the seed alone)
        spread = np.random.default_rng([self.seed]).integers(self.ways, size=self.queries)
        self.query_counts = np.bincount(spread, minlength=self.ways)
        need = self.shots + (int(self.query_counts.max()) if query_spread == "dataset" else self.queries)
        names = class_names(source.dataset)
        self.class_lists = {}
        for c in self.classes:
            ids = list(dict.fromkeys(source.class_list(c)))  # distinct, order kept
            if len(ids) < need:
                name = f" ({names[c - 1]})" if source.dataset != "synthetic" else ""
                raise ValueError(
                    f"class {c}{name} has {len(ids)} images in {source!r}, but an "
                    f"episode needs {need} distinct images of it ({self.shots} shots + queries); "
                    "use fewer shots/queries or a larger split")
            self.class_lists[c] = ids

    def __len__(self) -> int:
        return self.n_episodes

    def info(self) -> dict:
        """The settings that define the episodes (to record with every result)."""
        return {"dataset": self.source.dataset, "root": str(self.source.root),
                "split": self.source.split, "classes": list(self.classes), "ways": self.ways,
                "shots": self.shots, "queries": self.queries, "n_episodes": self.n_episodes,
                "seed": self.seed, "image_size": self.image_size, "train": self.train,
                "annotation": self.annotation, "query_spread": self.query_spread,
                "support_bg_includes_ignore": self.support_bg_includes_ignore,
                "scribble_antialias": self.scribble_antialias,
                "scribble_dilation": self.scribble_dilation,
                "empty_support": f"dense: episode redrawn (up to {MAX_REDRAWS} times; the original pools a zero "
                                 "prototype); weak: kept as a zero prototype, and counted"}

    def sample_ids(self, i: int, rng: np.random.Generator | None = None) -> dict:
        """Which classes and images episode i uses, without reading pixels.

        Returns {"class_ids": [N] ints, "support_ids": N lists of K ids, "query_ids": [Q] ids,
        "query_ways": [Q] way index 0..N-1 of each query}. ``rng`` defaults to a fresh
        ``default_rng((seed, i))``; ``__getitem__`` passes its own and keeps drawing from it.
        """
        if not 0 <= int(i) < self.n_episodes:
            raise IndexError(f"episode {i} out of range 0..{self.n_episodes - 1}")
        rng = np.random.default_rng((self.seed, int(i))) if rng is None else rng
        picked = rng.choice(len(self.classes), size=self.ways, replace=False)
        class_ids = [self.classes[j] for j in picked]
        counts = (self.query_counts if self.query_spread == "dataset" else
                  np.bincount(rng.integers(self.ways, size=self.queries), minlength=self.ways))
        support_ids, query_ids, query_ways = [], [], []
        for n, c in enumerate(class_ids):
            pool = self.class_lists[c]
            ids = [pool[p] for p in rng.choice(len(pool), size=self.shots + counts[n], replace=False)]
            support_ids.append(ids[:self.shots])
            query_ids += ids[self.shots:]
            query_ways += [n] * int(counts[n])
        return {"class_ids": class_ids, "support_ids": support_ids, "query_ids": query_ids,
                "query_ways": query_ways}

    def _load(self, id_: str, class_ids: list[int], way: int, flip: bool) -> tuple:
        """Resized (and flipped) normalised image float32 [3,S,S], label map uint8 [S,S] in global
        ids, and the stored (H, W).

        COCO: the "label" is class_ids[way]'s binary map scaled to that id (0 elsewhere).
        """
        src, size = self.source, self.image_size
        key = (id_, size, None if src.has_labels else class_ids[way])
        cache = getattr(src, "resized_cache", None)  # evaluation: each image decoded and resized once
        if cache is not None and key in cache:
            image, label, raw_hw = cache[key]
        else:
            image = src.image(id_)
            if src.has_labels:
                label = src.label(id_)
            else:
                label = src.class_mask(id_, class_ids[way]).astype(np.uint8) * np.uint8(class_ids[way])
            check_same_size(id_, image, label)
            raw_hw = label.shape
            image, label = resize_image(image, size), resize_mask(label, size)
            if cache is not None:
                cache[key] = (image, label, raw_hw)
        if flip:
            image, label = hflip(image), hflip(label)
        return normalize(image), label, raw_hw

    def _weak_map(self, id_: str, flip: bool, shape: tuple) -> np.ndarray:
        src, size = self.source, self.image_size
        if self.annotation == "scribble":
            raw = src.scribble(id_)
            check_same_size(id_, np.broadcast_to(np.uint8(0), tuple(shape) + (3,)), raw, "scribble map")
            out = dilate_scribble(resize_scribble(raw, size, self.scribble_antialias),
                                  self.scribble_dilation)
        else:
            raw = src.instances(id_)
            check_same_size(id_, np.broadcast_to(np.uint8(0), tuple(shape) + (3,)), raw, "instance map")
            out = resize_mask(raw, size)
        return hflip(out) if flip else out

    def __getitem__(self, i: int) -> dict:
        """Episode i (N ways, K shots, Q queries, S = image_size):

        support_images float [N,K,3,S,S] normalised; support_fg, support_bg float [N,K,S,S] in {0,1};
        query_images float [Q,3,S,S]; query_labels int64 [Q,S,S] in {0..N, 255};
        class_ids int64 [N] global ids; query_ways int64 [Q]; support_ids N lists of K ids;
        query_ids list of Q ids; redraws (how often the episode was redrawn); empty_supports (weak
        supports whose foreground came out empty: kept, pooled as a zero prototype).
        """
        # A support whose class vanishes in the resize (a thin pole at 241 x 241) has no foreground
        # pixel. The original then silently pools a zero prototype; we redraw the episode instead,
        # deterministically from (seed, i, attempt). The rule looks at the *dense* masks for every
        # annotation, so that scribble and box episodes are the dense ones (paired comparisons);
        # a weak support that comes out empty is kept (a zero prototype, as the original) and counted
        # in ``empty_supports``.
        for attempt in range(MAX_REDRAWS + 1):
            key = (self.seed, int(i)) if attempt == 0 else (self.seed, int(i), attempt)
            episode = self._episode(i, np.random.default_rng(key))
            if episode.pop("dense_present"):
                episode["redraws"] = attempt
                return episode
        raise ValueError(f"episode {i}: every one of {MAX_REDRAWS + 1} draws had a support with an empty "
                         f"foreground mask at {self.image_size} x {self.image_size}; use a larger image_size")

    def _episode(self, i: int, rng: np.random.Generator) -> dict:
        ep = self.sample_ids(i, rng)
        class_ids, n_img = ep["class_ids"], self.ways * self.shots + self.queries
        flips = rng.random(n_img) < 0.5 if self.train else np.zeros(n_img, dtype=bool)
        S, N, K = self.image_size, self.ways, self.shots
        # filled in numpy, handed to torch once: per-element torch ops are slow on small CPUs
        s_img = np.empty((N, K, 3, S, S), np.float32)
        s_fg = np.empty((N, K, S, S), np.float32)
        s_bg = np.empty((N, K, S, S), np.float32)
        dense_present = True
        for n, c in enumerate(class_ids):
            others = [o for o in class_ids if o != c]
            for k, id_ in enumerate(ep["support_ids"][n]):
                flip = bool(flips[n * K + k])
                s_img[n, k], label, raw_hw = self._load(id_, class_ids, n, flip)
                fg, bg = dense_support(label, c, others, self.support_bg_includes_ignore)
                dense_present &= bool(fg.any())
                if self.annotation == "scribble":
                    fg, bg = scribble_support(self._weak_map(id_, flip, raw_hw), fg, rng)
                elif self.annotation == "bbox":
                    fg, bg = bbox_support(self._weak_map(id_, flip, raw_hw), fg)
                s_fg[n, k], s_bg[n, k] = fg, bg
        q_img = np.empty((self.queries, 3, S, S), np.float32)
        q_lab = np.empty((self.queries, S, S), np.int64)
        for q, (id_, n) in enumerate(zip(ep["query_ids"], ep["query_ways"])):
            q_img[q], label, _ = self._load(id_, class_ids, n, bool(flips[N * K + q]))
            # lookup table: global id -> episode label (255 kept, other classes -> 0)
            lut = np.zeros(256, np.int64)
            lut[255] = 255
            lut[class_ids] = np.arange(1, N + 1)
            q_lab[q] = lut[label]
        t = torch.from_numpy
        return {"support_images": t(s_img), "support_fg": t(s_fg), "support_bg": t(s_bg),
                "query_images": t(q_img), "query_labels": t(q_lab),
                "class_ids": torch.tensor(class_ids, dtype=torch.int64),
                "query_ways": torch.tensor(ep["query_ways"], dtype=torch.int64),
                "support_ids": ep["support_ids"], "query_ids": ep["query_ids"], "dense_present": dense_present,
                "empty_supports": int((s_fg.reshape(N * K, -1).sum(1) == 0).sum())}


def collate_episodes(episodes: list[dict]) -> dict:
    """Stack B episodes: tensors [..] -> [B, ..] (support_images [B,N,K,3,S,S] etc.); ids stay
    lists (support_ids [B][N][K], query_ids [B][Q])."""
    if not episodes:
        raise ValueError("collate_episodes got an empty list")
    out = {}
    for key, value in episodes[0].items():
        values = [ep[key] for ep in episodes]
        if isinstance(value, torch.Tensor):
            shapes = {tuple(v.shape) for v in values}
            if len(shapes) > 1:
                raise ValueError(f"cannot batch episodes: {key} has shapes {sorted(shapes)}")
            if all(v.device.type == "cpu" for v in values):
                # numpy's stack: torch.stack's thread pool is slow on small busy CPUs
                out[key] = torch.from_numpy(np.stack([v.numpy() for v in values]))
            else:
                out[key] = torch.stack(values)
        else:
            out[key] = values
    return out


def episode_loader(dataset: EpisodeDataset, batch_size: int = 1, num_workers: int = 0,
                   start: int = 0, pin_memory: bool = False) -> DataLoader:
    """DataLoader over episodes start, start+1, ..., len-1 in order, batched by ``collate_episodes``.

    The last batch may be smaller. Episodes depend only on (seed, i), so the batches are the
    same for any ``num_workers``, and ``start`` resumes an interrupted run exactly.
    """
    if not 0 <= start <= len(dataset):
        raise ValueError(f"start={start} out of range 0..{len(dataset)}")
    return DataLoader(dataset, batch_size=_positive_int("batch_size", batch_size),
                      sampler=range(start, len(dataset)), num_workers=num_workers,
                      collate_fn=collate_episodes, pin_memory=pin_memory, drop_last=False)
