"""Figures for the book: each module draws one idea; functions return a matplotlib Figure.

- ``overlays``   images with masks, predictions, episodes, feature maps, similarity maps
- ``alignment``  PAR: query prototypes and the support re-segmentation
- ``curves``     training curves, prototype distances, per-class IoU bars, results tables

Import from the module, e.g. ``from panet_min.viz.overlays import show_episode``.
"""
