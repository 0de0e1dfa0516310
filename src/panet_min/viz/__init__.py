"""Figures for the book: each module draws one idea; functions return a matplotlib Figure.

- ``overlays``   images with masks, predictions, episodes, feature maps, similarity maps
- ``msrc``       MSRC-v2 photos and label maps in the dataset's legend
- ``episodes``   episodes drawn with outlines and a legend, at the photos' aspect
- ``source``     excerpts of the package's own source (``show_source``)
- ``diagrams``   the drawn PANet pipeline and PAR figures
- ``forward``    the forward pass: an episode's supports, query and prediction; the explorers' views
- ``alignment``  PAR: the intermediates of ``panet_min.alignment.par_terms``, gradient paths
- ``curves``     training curves, prototype distances, per-class IoU bars, results tables
- ``evaluation`` evaluations: toy metric episodes, per-class IoU over runs, the alpha sweep, shots
- ``style``      one size and one colour per meaning for every figure

Import from the module, e.g. ``from panet_min.viz.overlays import show_episode``.
"""
