"""Feature encoders: VGG-16 at output stride 8, and a small CPU backbone.

PANet's encoder is VGG-16's 13 convolutions with the classifier removed and the
last two down-samplings traded for dilation, so that a 417 x 417 image gives a
53 x 53 x 512 feature map (output stride 8)::

    block1  2 x conv3x3( 64) + ReLU   -> max-pool k3 s2 p1     417 -> 209
    block2  2 x conv3x3(128) + ReLU   -> max-pool k3 s2 p1     209 -> 105
    block3  3 x conv3x3(256) + ReLU   -> max-pool k3 s2 p1     105 ->  53
    block4  3 x conv3x3(512) + ReLU   -> max-pool k3 s1 p1      53 ->  53
    block5  3 x conv3x3(512, dilation 2), no ReLU after the last conv

The pools use floor mode, as the original (``nn.MaxPool2d`` defaults), so
``h = floor((H - 1) / 2) + 1`` three times: ``h = ceil(H / 8)``.

Input: ``[B, 3, H, W]`` RGB in [0, 1] normalised with the ImageNet mean and std
(see :mod:`panet_min.data.transforms`). Output: ``[B, C, ceil(H/8), ceil(W/8)]``.
"""
from __future__ import annotations

import torch
from torch import nn

from . import weights as _weights

# (number of convs, output channels, dilation, pool after the block: stride or None)
VGG16_BLOCKS = [(2, 64, 1, 2), (2, 128, 1, 2), (3, 256, 1, 2), (3, 512, 1, 1), (3, 512, 2, None)]


def _block(n_convs: int, c_in: int, c_out: int, dilation: int, last_relu: bool) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i in range(n_convs):
        layers.append(nn.Conv2d(c_in, c_out, 3, padding=dilation, dilation=dilation))
        # The original drops the very last ReLU so that features can be negative:
        # cosine similarity then uses the whole sphere, not one orthant.
        if i < n_convs - 1 or last_relu:
            layers.append(nn.ReLU(inplace=True))
        c_in = c_out
    return layers


class Encoder(nn.Module):
    """A plain stack of conv/ReLU/pool layers: ``features(x) -> [B, C, h, w]``.

    Attributes: ``out_channels`` (C), ``output_stride`` (8), ``block_sizes`` (convs per block), ``weights_info``
    (a sentence saying which weights it holds: every result quotes it).
    """

    def __init__(self, blocks, in_channels: int = 3, name: str = "encoder"):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = in_channels
        for i, (n, c_out, dilation, pool) in enumerate(blocks):
            layers += _block(n, c_in, c_out, dilation, last_relu=i < len(blocks) - 1)
            if pool is not None:
                layers.append(nn.MaxPool2d(3, stride=pool, padding=1))
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.block_sizes = [n for n, *_ in blocks]  # convs per block (the training log's gradient groups)
        self.out_channels = c_in
        self.output_stride = 8
        self.name = name
        self.weights_info = "random initialisation (Kaiming normal weights, PyTorch's default biases, as the original)"
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                # as the original: Kaiming normal weights; biases keep PyTorch's default (uniform) init
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def convs(self) -> list[nn.Conv2d]:
        return [m for m in self.features if isinstance(m, nn.Conv2d)]


def load_conv_weights(encoder: Encoder, state_dict: dict, info: str) -> Encoder:
    """Copy a state dict's conv tensors into ``encoder`` *in order*.

    This is what the original does: the first 26 tensors of torchvision's
    ``vgg16-397923af.pth`` (13 weights, 13 biases; the classifier is ignored)
    go into the 13 convs, whatever their names.
    """
    copy_conv_tensors(encoder, [state_dict[k] for k in _weights.VGG16_CONV_KEYS])
    encoder.weights_info = info
    return encoder


def copy_conv_tensors(encoder: Encoder, tensors: list) -> None:
    """Copy ``[w1, b1, w2, b2, ...]`` into the encoder's convs in order (shapes checked first)."""
    convs = encoder.convs()
    if len(convs) * 2 != len(tensors):
        raise ValueError(f"encoder has {len(convs)} convs but the weights hold {len(tensors) / 2:g}")
    for conv, w, b in zip(convs, tensors[0::2], tensors[1::2]):
        if conv.weight.shape != w.shape or conv.bias.shape != b.shape:
            raise ValueError(f"weight shape {tuple(w.shape)} does not fit conv {tuple(conv.weight.shape)}")
    with torch.no_grad():
        for conv, w, b in zip(convs, tensors[0::2], tensors[1::2]):
            conv.weight.copy_(w)
            conv.bias.copy_(b)


def vgg16_encoder(weights=None) -> Encoder:
    """VGG-16 at output stride 8 (512 channels), as PANet's ``Encoder``.

    ``weights``: ``None`` (Kaiming init), ``"imagenet"`` (the book's pinned
    offline extraction), ``"torchvision"`` (torchvision's file, the original's;
    see :func:`panet_min.weights.resolve_vgg16_weights`), a path to a
    torchvision-format checkpoint, or a state dict with ``features.N.*`` keys.
    """
    encoder = Encoder(VGG16_BLOCKS, name="vgg16")
    if weights not in (None, "none", "random"):
        state_dict, info = _weights.resolve_vgg16_weights(weights)
        if state_dict is not None:
            load_conv_weights(encoder, state_dict, info)
    return encoder


def small_encoder(channels: int = 64) -> Encoder:
    """A small CPU backbone for fast demos and tests: NOT part of the paper.

    Four 3x3 convs (32, 48, ``channels``, ``channels`` dilated by 2) with the
    same pools as VGG-16, so it has the same output stride (8) and the same
    feature size (417 -> 53), about 1/300 of VGG-16's compute. Random init.
    """
    blocks = [(1, 32, 1, 2), (1, 48, 1, 2), (1, channels, 1, 2), (1, channels, 2, None)]
    return Encoder(blocks, name=f"small{channels}")


def build_encoder(name: str = "vgg16", weights=None) -> Encoder:
    """``name``: ``"vgg16"`` (the paper's) or ``"small"`` (CPU demos; random init)."""
    if name == "vgg16":
        return vgg16_encoder(weights)
    if name == "small":
        if weights not in (None, "none", "random"):
            raise ValueError("the small backbone has no pretrained weights: use weights=None")
        return small_encoder()
    raise ValueError(f"unknown backbone {name!r}: choose 'vgg16' or 'small'")
