"""panet_min: PANet (Wang et al., ICCV 2019), small, faithful and fast.

Where each quantity of the paper lives (``file:function``; book chapter in brackets). The
quantities are named, not numbered: the project's reference notes on the paper
(``panet-reference.md``) do not give its equation numbers, so none is cited here.

- foreground prototype: masked average pooling of the support features
  ``prototypes.py:masked_average_pooling``, averaged over shots in
  ``prototypes.py:episode_prototypes`` [ch. 3]
- background prototype: the same pooling with the background masks, averaged over shots
  and ways in ``prototypes.py:episode_prototypes`` [ch. 3]
- the probability map: softmax over alpha x cosine to [bg, fg_1..fg_N]
  ``segment.py:cosine_logits`` (the logits; the softmax is inside the cross-entropy),
  upsampled by ``segment.py:upsample_logits`` [ch. 4]
- the prediction: argmax over the 1+N channels ``model.py:predict`` [ch. 4, 5]
- L_seg, the query's cross-entropy: ``model.py:query_loss`` [ch. 5]
- L_PAR, prototype alignment: ``alignment.py:par_terms`` (``alignment.py:par_loss``) [ch. 6]
- the total loss L = L_seg + lambda L_PAR: ``train.py:_train`` (lambda = ``TrainConfig.par_weight``)
  [ch. 6, 7]

The forward pass for B episodes is ``model.py:PANet.forward`` [ch. 5]; the evaluation metric,
mean-IoU and binary IoU, ``metrics.py:FewShotMeter`` and ``evaluate.py:evaluate_episodes`` [ch. 8].

Modules:

- ``backbone``    VGG-16 encoder at output stride 8 (+ a small CPU backbone)
- ``weights``     ImageNet VGG-16 weights (torchvision's file, or offline)
- ``prototypes``  masked average pooling, foreground and background prototypes
- ``segment``     cosine x alpha segmentation (the logits of the probability map)
- ``model``       PANet: N-way K-shot forward pass for B episodes, prediction, query loss L_seg
- ``alignment``   prototype alignment regularization, PAR (L_PAR)
- ``metrics``     FewShotMeter: mean-IoU and binary IoU (the official counts, mean over seen classes)
- ``data``        MSRC, PASCAL-5i, COCO-20i, CamVid, episodes, weak supports
- ``train``, ``evaluate``  the paper's protocol from the command line; ``report`` its tables
- ``predict``     :class:`Predictor`: your own images, annotated with a mask, a box or scribbles
  (``supports``), segmented at their own size; ``python -m panet_min.predict``
"""
from .alignment import par_loss, par_terms
from .backbone import build_encoder, small_encoder, vgg16_encoder
from .loading import load
from .metrics import FewShotMeter
from .model import PANet, PANetOutput, query_loss
from .prototypes import episode_prototypes, masked_average_pooling
from .segment import cosine_logits

__version__ = "0.1.0"

__all__ = ["PANet", "PANetOutput", "Predictor", "FewShotMeter", "load", "build_encoder", "small_encoder", "vgg16_encoder",
           "masked_average_pooling", "episode_prototypes", "cosine_logits", "par_loss", "par_terms",
           "query_loss"]


def __getattr__(name):
    # Predictor is imported on first use: importing the module panet_min.predict here would load it a
    # second time under `python -m panet_min.predict` (runpy warns). The argmax over the channels is
    # panet_min.model.predict; panet_min.predict is the module of your own images.
    if name == "Predictor":
        from .predict import Predictor
        return Predictor
    raise AttributeError(f"module 'panet_min' has no attribute {name!r}")
