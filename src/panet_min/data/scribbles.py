"""The scribble robot: simulated user scribbles for weakly annotated supports.

PANet's scribble experiments read precomputed ``ScribbleAugAuto`` maps made by
the "scribble robot" of the DAVIS interactive challenge. This module rebuilds
that robot in the same spirit, with numpy/scipy/scikit-image only:

1. open the mask (erode, then dilate) with a disk of radius
   ``r = min(0.15 * sqrt(area) / 2, 16)``, shrinking ``r`` by 0.9 while the
   opening would erase the mask (so thin structures keep a scribble);
2. take the medial axis of the opened mask;
3. turn the skeleton pixels into a graph (8-neighbours, edge length 1 or
   sqrt(2)); remove cycles by keeping a minimum spanning tree (the robot drops
   the longest edge of every cycle, which is what a minimum spanning tree keeps
   out), drop components with fewer than 4 pixels;
4. take the longest path (in hops) of each tree, by the classic two sweeps;
5. smooth each path with a Bezier curve whose control points are the path
   pixels, and rasterise it as a 1-pixel polyline.

ScribbleAugAuto encoding (what ``make_scribble_map`` writes): 0 = background
scribble, 255 = no scribble, any other value = an object scribble (here: the
class id of the object, so a way's foreground scribble lies inside its mask).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, dijkstra, minimum_spanning_tree
from scipy.special import gammaln

KERNEL_FRACTION = 0.15
MAX_KERNEL_RADIUS = 16.0
MIN_NODES = 4
BEZIER_POINTS = 1000


def _open_with_disk(mask: np.ndarray) -> np.ndarray:
    """Opening of ``mask`` [H,W] bool with a disk of radius min(0.15 sqrt(area)/2, 16).

    Erosion by a Euclidean disk of radius r keeps pixels whose distance to the
    nearest outside pixel exceeds r; dilation adds pixels within r of the
    eroded set. The radius shrinks by 0.9 while the opening is empty.
    """
    radius = min(KERNEL_FRACTION * np.sqrt(mask.sum()) * 0.5, MAX_KERNEL_RADIUS)
    # pad with background so the image border counts as outside the object
    inside = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    while radius > 1.0:
        eroded = inside > radius
        if eroded.any():
            return ndimage.distance_transform_edt(~eroded) <= radius
        radius *= 0.9
    return mask


def _medial_axis(mask: np.ndarray, seed: int) -> np.ndarray:
    """Medial axis of ``mask`` [H,W] bool: scikit-image's public ``medial_axis`` (pixels thinned
    in order of distance transform, then cornerness, ties broken by a permutation seeded with
    ``seed``)."""
    from skimage.morphology import medial_axis  # here: importing scikit-image takes about a second

    return medial_axis(mask, rng=seed)


def _skeleton_graph(skel: np.ndarray):
    """Pixels of ``skel`` [H,W] bool -> (coords [P,2] (row, col), sparse [P,P] edge lengths)."""
    coords = np.argwhere(skel)
    index = np.full(skel.shape, -1, dtype=np.int64)
    index[coords[:, 0], coords[:, 1]] = np.arange(len(coords))
    rows, cols, lengths = [], [], []
    h, w = skel.shape
    for dr, dc in ((0, 1), (1, -1), (1, 0), (1, 1)):
        r2, c2 = coords[:, 0] + dr, coords[:, 1] + dc
        ok = (r2 >= 0) & (r2 < h) & (c2 >= 0) & (c2 < w)
        j = np.full(len(coords), -1)
        j[ok] = index[r2[ok], c2[ok]]
        has = j >= 0
        rows.append(np.nonzero(has)[0])
        cols.append(j[has])
        lengths.append(np.full(has.sum(), np.hypot(dr, dc)))
    n = len(coords)
    graph = coo_matrix((np.concatenate(lengths), (np.concatenate(rows), np.concatenate(cols))),
                       shape=(n, n)).tocsr()
    return coords, graph


def _longest_path(tree, nodes: np.ndarray, start: int) -> np.ndarray:
    """Longest path (in hops) of the tree containing ``start``: sweep to the farthest
    node u, then sweep from u; returns the node indices of the u -> v path."""
    hops = dijkstra(tree, directed=False, indices=start, unweighted=True)
    u = nodes[np.argmax(hops[nodes])]
    hops, pred = dijkstra(tree, directed=False, indices=u, unweighted=True,
                          return_predecessors=True)
    v = nodes[np.argmax(hops[nodes])]
    path = [v]
    while path[-1] != u:
        path.append(pred[path[-1]])
    return np.asarray(path[::-1])


def bezier_curve(points: np.ndarray, n_samples: int = BEZIER_POINTS) -> np.ndarray:
    """Bezier curve with control points ``points`` [P,2], sampled at ``n_samples`` [S,2].

    B(t) = sum_i C(n,i) t^i (1-t)^(n-i) P_i, n = P-1, computed in log space so
    that long paths do not overflow. Paths longer than ``n_samples`` are
    returned unchanged (as the robot does).
    """
    points = np.asarray(points, dtype=np.float64)
    n = len(points) - 1
    if n < 1 or len(points) > n_samples:
        return points
    t = np.linspace(0.0, 1.0, n_samples)[1:-1, None]
    i = np.arange(n + 1)[None, :]
    log_c = (gammaln(n + 1) - gammaln(i + 1) - gammaln(n - i + 1)).astype(np.float32)
    # float32 is plenty for pixel positions and halves the cost of the [S, n] weight matrix
    log_w = log_c + i.astype(np.float32) * np.log(t).astype(np.float32) \
        + (n - i).astype(np.float32) * np.log1p(-t).astype(np.float32)
    inner = np.exp(log_w) @ points.astype(np.float32)
    return np.concatenate([points[:1], inner, points[-1:]])


def _rasterise(curve: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Draw the polyline through ``curve`` [S,2] (row, col) into a bool map of ``shape``:
    each segment is sampled at max(|drow|, |dcol|) + 1 evenly spaced points, rounded
    (the pixels a DDA line walks through)."""
    out = np.zeros(shape, dtype=bool)
    pts = np.asarray(curve, dtype=np.float64)
    if len(pts) == 1:
        pts = np.concatenate([pts, pts])
    a, b = pts[:-1], pts[1:]
    steps = np.ceil(np.abs(b - a).max(1)).astype(np.int64) + 1
    seg = np.repeat(np.arange(len(a)), steps)
    frac = (np.arange(steps.sum()) - np.repeat(np.cumsum(steps) - steps, steps)) / np.maximum(steps[seg] - 1, 1)
    p = np.rint(a[seg] + (b[seg] - a[seg]) * frac[:, None]).astype(np.int64)
    out[np.clip(p[:, 0], 0, shape[0] - 1), np.clip(p[:, 1], 0, shape[1] - 1)] = True
    return out


def scribble_robot(mask: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """Simulated scribble of a region: ``mask`` bool [H,W] -> scribble bool [H,W].

    Opening with a disk (radius min(0.15 sqrt(area)/2, 16)), medial axis,
    spanning forest of the skeleton, longest path of each tree (components of
    fewer than 4 pixels dropped), Bezier smoothing, rasterisation. ``rng``
    picks the node the two-sweep longest-path search starts from (the robot
    always starts from its first node: pass ``None`` for that); the result is
    deterministic for a seeded generator. The scribble is not clipped to the
    mask (a Bezier curve can leave a concave region); callers intersect.
    An empty mask gives an empty scribble.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"scribble_robot expects a 2-D mask, got shape {mask.shape}")
    out = np.zeros(mask.shape, dtype=bool)
    if not mask.any():
        return out
    # work on the bounding box: every step (and the Bezier curve, inside the
    # convex hull of its path) stays within it
    rows, cols = np.nonzero(mask.any(1))[0], np.nonzero(mask.any(0))[0]
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    out[box] = _robot_in_box(mask[box], rng)
    return out


def _robot_in_box(mask: np.ndarray, rng) -> np.ndarray:
    out = np.zeros(mask.shape, dtype=bool)
    opened = _open_with_disk(mask)
    seed = 0 if rng is None else int(rng.integers(2**31))
    skel = _medial_axis(np.pad(opened, 1), seed)[1:-1, 1:-1]
    if skel.sum() < MIN_NODES:
        return out
    coords, graph = _skeleton_graph(skel)
    forest = minimum_spanning_tree(graph)
    n_comp, comp = connected_components(forest, directed=False)
    for k in range(n_comp):
        nodes = np.nonzero(comp == k)[0]
        if len(nodes) < MIN_NODES:
            continue
        start = nodes[0] if rng is None else nodes[rng.integers(len(nodes))]
        path = coords[_longest_path(forest, nodes, start)]
        # the robot samples 1000 points; 2 per control point already lie a pixel or
        # less apart, and the polyline between samples is drawn anyway
        out |= _rasterise(bezier_curve(path, min(BEZIER_POINTS, 2 * len(path))), mask.shape)
    return out


def make_scribble_map(label: np.ndarray, seed: int = 0, ignore: int = 255) -> np.ndarray:
    """ScribbleAugAuto map of a label map: ``label`` uint8 [H,W] -> uint8 [H,W].

    Rule: start from 255 (no scribble); for every class c present (c not 0 or
    ``ignore``), pixels of ``scribble_robot(label == c)`` inside the class
    mask get value c; pixels of ``scribble_robot(label == 0)`` inside the
    background get 0. Deterministic in (label, seed).
    """
    label = np.asarray(label)
    if label.ndim != 2:
        raise ValueError(f"make_scribble_map expects a 2-D label map, got shape {label.shape}")
    rng = np.random.default_rng(seed)
    out = np.full(label.shape, 255, dtype=np.uint8)
    classes = [int(c) for c in np.unique(label) if c != 0 and c != ignore]
    for c in classes:
        region = label == c
        out[scribble_robot(region, rng) & region] = c
    background = label == 0
    out[scribble_robot(background, rng) & background] = 0
    return out


def object_scribble_map(objects: np.ndarray, background: np.ndarray, seed: int = 0) -> np.ndarray:
    """ScribbleAugAuto-style map with one scribble per object: ``objects`` uint8 [H,W] instance ids
    (:func:`panet_min.data.weak.object_map`, 0 none), ``background`` bool [H,W] (where a background
    scribble may go) -> uint8 [H,W]: object k's scribble (inside object k) = k, the background's = 0,
    none = 255. Deterministic in (objects, background, seed)."""
    if objects.shape != background.shape:
        raise ValueError(f"objects {objects.shape} and background {background.shape} differ in size")
    rng = np.random.default_rng(seed)
    out = np.full(objects.shape, 255, dtype=np.uint8)
    for k in (int(v) for v in np.unique(objects) if v not in (0, 255)):
        region = objects == k
        out[scribble_robot(region, rng) & region] = k
    out[scribble_robot(background, rng) & background] = 0
    return out


def scribble_seed(seed: int, image_id: str) -> int:
    """Seed of one image's scribble map: a function of (seed, id) only, so any subset, order or
    number of workers gives the same maps."""
    import zlib

    return zlib.crc32(f"{seed}:{image_id}".encode())


def _scribble_file(args) -> None:
    from .classlists import read_label, save_label_png

    label_path, out_path, seed = args
    save_label_png(make_scribble_map(read_label(label_path), seed), out_path)  # written atomically


def scribble_folder(label_dir, out_dir, ids, seed: int = 0, workers: int = 1, progress: bool = False) -> None:
    """Write ``out_dir/{id}.png`` = make_scribble_map(label_dir/{id}.png, scribble_seed(seed, id))
    for every id whose output does not exist yet (resumable; each file is written atomically)."""
    from pathlib import Path

    label_dir, out_dir = Path(label_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(label_dir / f"{i}.png", out_dir / f"{i}.png", scribble_seed(seed, i))
            for i in ids if not (out_dir / f"{i}.png").is_file()]
    if workers > 1 and len(jobs) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers) as pool:
            results = pool.map(_scribble_file, jobs, chunksize=8)
            _drain(results, len(jobs), progress)
    else:
        _drain(map(_scribble_file, jobs), len(jobs), progress)


def _drain(results, total, progress):
    if progress:
        from tqdm.auto import tqdm

        results = tqdm(results, total=total, desc="scribbles", unit="img")
    for _ in results:
        pass
