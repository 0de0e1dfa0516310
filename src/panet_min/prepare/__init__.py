"""Preparing data and weights: download (or copy a local copy), verify, convert.

``python -m panet_min.prepare NAME --root DIR [--source PATH_OR_URL]`` for NAME in msrc, camvid,
pascal, coco, synthetic, weights. Every download goes through :mod:`.download` (resumable, checked,
``PANET_MIN_MIRROR`` aware). Nothing here is needed to *read* prepared data (:mod:`panet_min.data`).
"""
