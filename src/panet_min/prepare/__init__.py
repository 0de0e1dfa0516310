"""Preparing data and weights: download (or copy a local copy), verify, convert.

``python -m panet_min.prepare NAME --root DIR [--source PATH_OR_URL] [--force]`` for NAME in msrc,
camvid, pascal, coco, synthetic, weights. Every download goes through :mod:`.download` (resumable,
checked, ``PANET_MIN_MIRROR`` aware). Nothing here is needed to *read* prepared data
(:mod:`panet_min.data`).
"""
from __future__ import annotations

from pathlib import Path


def source_url(source, name: str) -> str:
    """URL of the file ``name`` inside ``source``: a local folder (-> ``file://`` URL of
    ``source/name``, which must exist) or a URL prefix (-> ``source/name``)."""
    text = str(source)
    if "://" in text:
        return f"{text.rstrip('/')}/{name}"
    folder = Path(text).expanduser().resolve()
    if not (folder / name).is_file():
        raise ValueError(f"--source {source}: no file {folder / name}. Give a folder (or URL prefix) "
                         f"holding {name}, or leave --source out to download it.")
    return (folder / name).as_uri()
