"""panet_min: PANet (Wang et al., ICCV 2019), small, faithful and fast.

Where each equation of the paper lives (``file:function``; book chapter in brackets):

- eq. 1  foreground prototype, masked average pooling of the support features
         ``prototypes.py:masked_average_pooling``, averaged over shots in
         ``prototypes.py:episode_prototypes`` [ch. 3]
- eq. 2  background prototype, the same pooling with the background masks, averaged over shots
         and ways in ``prototypes.py:episode_prototypes`` [ch. 3]
- eq. 3  the probability map: softmax over alpha x cosine to [bg, fg_1..fg_N]
         ``segment.py:cosine_logits`` (the logits; the softmax is inside the cross-entropy),
         upsampled by ``segment.py:upsample_logits`` [ch. 4]
- eq. 4  the prediction, argmax over the 1+N channels ``model.py:predict`` [ch. 4, 5]
- eq. 5  L_seg, the query's cross-entropy ``model.py:query_loss`` [ch. 5]
- eq. 6  L_PAR, prototype alignment ``alignment.py:par_terms`` (``alignment.py:par_loss``) [ch. 6]
- eq. 7  L = L_seg + lambda L_PAR, ``train.py:_train`` (lambda = ``TrainConfig.par_weight``) [ch. 6, 7]

The forward pass for B episodes is ``model.py:PANet.forward`` [ch. 5]; the evaluation metric,
mean-IoU and binary IoU, ``metrics.py:FewShotMeter`` and ``evaluate.py:evaluate_episodes`` [ch. 8].

Modules:

- ``backbone``    VGG-16 encoder at output stride 8 (+ a small CPU backbone)
- ``weights``     ImageNet VGG-16 weights (torchvision's file, or offline)
- ``prototypes``  masked average pooling, prototypes (eq. 1-2)
- ``segment``     cosine x alpha segmentation (eq. 3-4)
- ``model``       PANet: N-way K-shot forward pass for B episodes, query loss (eq. 4-5)
- ``alignment``   prototype alignment regularization, PAR (eq. 6)
- ``metrics``     FewShotMeter: mean-IoU and binary IoU (the official counts, mean over seen classes)
- ``data``        MSRC, PASCAL-5i, COCO-20i, CamVid, episodes, weak supports
- ``train``, ``evaluate``  the paper's protocol from the command line; ``report`` its tables
"""
from .alignment import par_loss, par_terms
from .backbone import build_encoder, small_encoder, vgg16_encoder
from .metrics import FewShotMeter
from .model import PANet, PANetOutput, predict, query_loss
from .prototypes import episode_prototypes, masked_average_pooling
from .segment import cosine_logits

__version__ = "0.1.0"

__all__ = ["PANet", "PANetOutput", "FewShotMeter", "build_encoder", "small_encoder", "vgg16_encoder",
           "masked_average_pooling", "episode_prototypes", "cosine_logits", "par_loss", "par_terms", "predict",
           "query_loss"]
