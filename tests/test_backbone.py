"""The VGG-16 encoder: layer layout, output stride, weight loading in order."""
import pytest
import torch
from torch import nn

from panet_min import build_encoder, small_encoder, vgg16_encoder
from panet_min.weights import VGG16_CONV_KEYS


def test_layout_matches_the_original():
    enc = vgg16_encoder()
    kinds = [type(m).__name__ for m in enc.features]
    # 13 convs, 12 ReLUs (none after the last conv), 4 pools.
    assert kinds.count("Conv2d") == 13 and kinds.count("ReLU") == 12 and kinds.count("MaxPool2d") == 4
    assert kinds[-1] == "Conv2d"
    pools = [m for m in enc.features if isinstance(m, nn.MaxPool2d)]
    assert [(p.kernel_size, p.stride, p.padding) for p in pools] == [(3, 2, 1)] * 3 + [(3, 1, 1)]
    convs = enc.convs()
    assert [c.dilation[0] for c in convs] == [1] * 10 + [2] * 3
    assert [c.padding[0] for c in convs] == [1] * 10 + [2] * 3
    assert sum(p.numel() for p in enc.parameters()) == 14_714_688


@pytest.mark.parametrize("size,feat", [(417, 53), (321, 41), (64, 8), (65, 9)])
def test_output_stride_8(size, feat):
    enc = small_encoder(8)  # same pools as VGG-16, cheap to run
    assert enc(torch.zeros(1, 3, size, size)).shape == (1, 8, feat, feat)


def test_vgg_output_shape_at_417():
    with torch.no_grad():
        assert vgg16_encoder()(torch.zeros(1, 3, 417, 417)).shape == (1, 512, 53, 53)


def fake_torchvision_state_dict():
    """A torchvision-format VGG-16 state dict whose every tensor is distinguishable."""
    sd = {}
    shapes = [(64, 3), (64, 64), (128, 64), (128, 128), (256, 128), (256, 256), (256, 256), (512, 256),
              (512, 512), (512, 512), (512, 512), (512, 512), (512, 512)]
    for n, (key_w, key_b) in enumerate(zip(VGG16_CONV_KEYS[0::2], VGG16_CONV_KEYS[1::2])):
        cout, cin = shapes[n]
        sd[key_w] = torch.full((cout, cin, 3, 3), float(n))
        sd[key_b] = torch.full((cout,), -float(n))
    sd["classifier.0.weight"] = torch.zeros(4096, 25088)  # must be ignored
    sd["classifier.0.bias"] = torch.zeros(4096)
    return sd


def test_weights_land_in_order_and_classifier_is_ignored(tmp_path):
    sd = fake_torchvision_state_dict()
    path = tmp_path / "vgg16.pth"
    torch.save(sd, path)
    for source in (sd, str(path)):
        enc = vgg16_encoder(source)
        for n, conv in enumerate(enc.convs()):
            assert torch.all(conv.weight == n) and torch.all(conv.bias == -n)
        assert "classifier" not in str(enc.state_dict().keys())


def test_build_encoder_names():
    assert build_encoder("small").out_channels == 64
    assert build_encoder("vgg16").out_channels == 512
    with pytest.raises(ValueError, match="unknown backbone"):
        build_encoder("resnet")
    with pytest.raises(ValueError, match="no pretrained weights"):
        build_encoder("small", weights="imagenet")
