"""Image and label transforms of the original pipeline: resize, horizontal flip, ImageNet normalisation.

The original resizes every image to 417 x 417 with PIL (bilinear for the image, nearest for label,
instance and scribble maps), flips each image of a training episode independently with probability
1/2, and normalises with the ImageNet mean and standard deviation. Labels are resized too, so
evaluation happens at 417 x 417, not at the original resolution.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

# The input convention of torchvision's VGG-16 (and of the offline weights, see panet_min.weights).
from ..weights import IMAGENET_MEAN, IMAGENET_STD
_MEAN_255 = np.asarray(IMAGENET_MEAN, np.float32) * 255  # (x/255 - m)/s == (x - 255 m)/(255 s)
_STD_255 = np.asarray(IMAGENET_STD, np.float32) * 255


def size_hw(size) -> tuple[int, int]:
    """A size given as S or (h, w) -> (h, w) ints; ValueError unless both are positive."""
    h, w = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    if int(h) < 1 or int(w) < 1:
        raise ValueError(f"image size must be positive, got {size!r}")
    return int(h), int(w)


def resize_image(image: np.ndarray, size) -> np.ndarray:
    """Resize an RGB image np.uint8 [H,W,3] to [S,S,3] (or [h,w,3] for ``size=(h, w)``).

    PIL bilinear, which filters when shrinking: the same call torchvision's ``resize`` makes on
    a PIL image in the original code.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"resize_image expects uint8 [H,W,3], got {image.dtype} {image.shape}")
    h, w = size_hw(size)
    if image.shape[:2] == (h, w):
        return image
    return np.array(Image.fromarray(image).resize((w, h), Image.BILINEAR))


def resize_mask(mask: np.ndarray, size) -> np.ndarray:
    """Nearest-neighbour resize of a label/instance/scribble map [H,W] (uint8 or bool) to [S,S].

    Nearest keeps every value a valid label: no interpolated class ids, 255 stays 255.
    """
    if mask.ndim != 2:
        raise ValueError(f"resize_mask expects a 2-D map [H,W], got shape {mask.shape}")
    h, w = size_hw(size)
    if mask.shape == (h, w):
        return mask
    if mask.dtype == np.bool_:
        return resize_mask(mask.astype(np.uint8), size).astype(bool)
    if mask.dtype != np.uint8:
        raise ValueError(f"resize_mask expects uint8 or bool, got {mask.dtype}")
    return np.array(Image.fromarray(mask).resize((w, h), Image.NEAREST))


def hflip(array: np.ndarray) -> np.ndarray:
    """Mirror an image [H,W,3] or a map [H,W] left-right (a contiguous copy)."""
    return np.ascontiguousarray(array[:, ::-1])


def normalize(image: np.ndarray) -> np.ndarray:
    """uint8 RGB [H,W,3] -> float32 [3,H,W]: (x / 255 - IMAGENET_MEAN) / IMAGENET_STD per channel.

    In numpy: on small CPUs it is ~10x faster than the same arithmetic on torch tensors.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"normalize expects uint8 [H,W,3], got {image.dtype} {image.shape}")
    x = (image.astype(np.float32) - _MEAN_255) / _STD_255
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def to_tensor_normalized(image: np.ndarray) -> torch.Tensor:
    """uint8 RGB [H,W,3] -> float32 tensor [3,H,W]: x / 255, then (x - IMAGENET_MEAN) / IMAGENET_STD."""
    return torch.from_numpy(normalize(image))


def denormalize(images: torch.Tensor) -> torch.Tensor:
    """Undo the normalisation for plotting: float [..., 3, H, W] -> float in [0, 1] (same shape)."""
    if images.ndim < 3 or images.shape[-3] != 3:
        raise ValueError(f"denormalize expects [..., 3, H, W], got {tuple(images.shape)}")
    mean = torch.tensor(IMAGENET_MEAN, dtype=images.dtype, device=images.device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=images.dtype, device=images.device).view(3, 1, 1)
    return (images * std + mean).clamp(0.0, 1.0)
