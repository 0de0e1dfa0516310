"""Masked average pooling, prototypes and cosine logits: known answers by hand."""
import math

import pytest
import torch
import torch.nn.functional as F

from panet_min.prototypes import downproject_mask, episode_prototypes, masked_average_pooling
from panet_min.segment import cosine_logits, upsample_logits
from panet_min.reference import get_features


def test_pooling_same_size_is_a_masked_mean():
    # 1 channel, 2x2 features at the mask's size: no resizing, plain masked mean.
    f = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])  # [C=1, 2, 2]
    m = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    out = masked_average_pooling(f, m)
    assert out.shape == (1,)
    assert out.item() == pytest.approx((1 + 4) / (2 + 1e-5))


def test_pooling_upsamples_features_bilinearly():
    # A 1x1 feature map upsampled to any size is constant: the mean is that value
    # times |M| / (|M| + eps).
    f = torch.full((3, 1, 1), 2.0)
    m = torch.zeros(5, 7)
    m[1:3, 2:6] = 1
    out = masked_average_pooling(f, m)
    assert torch.allclose(out, torch.full((3,), 2.0 * 8 / (8 + 1e-5)))


def test_empty_mask_gives_zero_not_nan():
    out = masked_average_pooling(torch.randn(4, 3, 3), torch.zeros(9, 9))
    assert torch.equal(out, torch.zeros(4))


@pytest.mark.parametrize("h,H", [(53, 417), (4, 25), (7, 7), (3, 10)])
def test_adjoint_pooling_equals_the_original_upsample(h, H):
    g = torch.Generator().manual_seed(h)
    f = torch.randn(2, 3, 8, h, h + 1, generator=g, dtype=torch.float64)
    m = (torch.rand(2, 3, H, H + 2, generator=g) > 0.6).double()
    fast = masked_average_pooling(f, m)
    literal = masked_average_pooling(f, m, method="upsample")
    assert fast.shape == (2, 3, 8)
    assert torch.allclose(fast, literal, rtol=1e-10, atol=1e-12)
    # ... and the original's getFeatures on one of them
    ref = get_features(f[1, 2][None], m[1, 2][None])[0]
    assert torch.allclose(fast[1, 2], ref, rtol=1e-10, atol=1e-12)


def test_downprojected_mask_conserves_mass():
    # Bilinear upsampling (align_corners=False) is a partition of unity per output
    # pixel, so the adjoint keeps the mask's total weight.
    m = (torch.rand(40, 33) > 0.5).double()
    assert downproject_mask(m, (5, 4)).sum().item() == pytest.approx(m.sum().item())


def test_prototypes_average_shots_then_ways():
    fg = torch.tensor([[[[1.0], [3.0]], [[10.0], [20.0]]]])  # [B=1, N=2, K=2, C=1]
    bg = torch.tensor([[[[0.0], [2.0]], [[4.0], [6.0]]]])
    b, f = episode_prototypes(fg, bg)
    assert f.tolist() == [[[2.0], [15.0]]]
    assert b.tolist() == [[(1.0 + 5.0) / 2]]  # way means 1 and 5, then their mean


def test_cosine_logits_known_values():
    # Feature at one position is (1, 0); prototypes (1, 0), (0, 2), (-1, 1).
    f = torch.tensor([1.0, 0.0]).view(1, 2, 1, 1)
    p = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [-1.0, 1.0]]])
    out = cosine_logits(f, p, alpha=20.0)
    assert out.shape == (1, 3, 1, 1)
    assert out.flatten().tolist() == pytest.approx([20.0, 0.0, -20.0 / math.sqrt(2)])


def test_cosine_logits_match_torch_cosine_similarity_with_query_dim():
    f = torch.randn(2, 3, 16, 5, 6)  # [B, Q, C, h, w]
    p = torch.randn(2, 4, 16)  # [B, P, C]
    out = cosine_logits(f, p, alpha=20.0)
    assert out.shape == (2, 3, 4, 5, 6)
    for b in range(2):
        for j in range(4):
            ref = 20 * F.cosine_similarity(f[b], p[b, j][None, :, None, None], dim=1)
            assert torch.allclose(out[b, :, j], ref, atol=1e-5)


def test_zero_prototype_scores_zero():
    out = cosine_logits(torch.randn(1, 8, 3, 3), torch.zeros(1, 1, 8))
    assert torch.equal(out, torch.zeros(1, 1, 3, 3))


def test_upsample_logits_shape():
    assert upsample_logits(torch.randn(2, 3, 4, 5, 5), (17, 19)).shape == (2, 3, 4, 17, 19)


def test_unknown_pooling_method():
    with pytest.raises(ValueError, match="pooling method"):
        masked_average_pooling(torch.randn(2, 2, 2), torch.ones(2, 2), method="nearest")
