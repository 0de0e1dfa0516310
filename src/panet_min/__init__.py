"""panet_min: PANet (Wang et al., ICCV 2019), small, faithful and fast.

Where each idea of the paper lives:

- ``backbone``    VGG-16 encoder at output stride 8 (+ a small CPU backbone)
- ``weights``     ImageNet VGG-16 weights (torchvision's file, or offline)
- ``prototypes``  masked average pooling, prototypes (eq. 1-2)
- ``segment``     cosine x alpha segmentation (eq. 3-4)
- ``model``       PANet: N-way K-shot forward pass for B episodes
- ``alignment``   prototype alignment regularization, PAR (eq. 5-6)
- ``metrics``     FewShotMeter: mean-IoU and binary IoU as the official code
- ``data``        PASCAL-5i, COCO-20i, CamVid, episodes, weak supports
- ``train``, ``evaluate``  the paper's protocol from the command line
"""
from .alignment import par_loss
from .backbone import build_encoder, small_encoder, vgg16_encoder
from .metrics import FewShotMeter
from .model import PANet, PANetOutput, predict, query_loss
from .prototypes import episode_prototypes, masked_average_pooling
from .segment import cosine_logits

__version__ = "0.1.0"

__all__ = ["PANet", "PANetOutput", "FewShotMeter", "build_encoder", "small_encoder", "vgg16_encoder",
           "masked_average_pooling", "episode_prototypes", "cosine_logits", "par_loss", "predict", "query_loss"]
