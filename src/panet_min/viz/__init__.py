"""Figures for the book: each module draws one idea; functions return a matplotlib Figure.

- ``overlays``   images with masks, predictions, episodes, feature maps, similarity maps
- ``forward``    the forward pass: an episode's supports, query and prediction; the explorers' views
- ``alignment``  PAR: the intermediates of ``panet_min.alignment.par_terms``, gradient paths
- ``curves``     training curves, prototype distances, per-class IoU bars, results tables
- ``style``      one size and one colour per meaning for every figure

Import from the module, e.g. ``from panet_min.viz.overlays import show_episode``.
"""
