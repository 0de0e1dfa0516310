"""The PANet forward pass and PAR: known answers, the original's loops, gradients, shapes."""
import math

import pytest
import torch
from torch import nn

from panet_min import PANet, query_loss, small_encoder
from panet_min.alignment import support_labels
from panet_min import reference as ref


def random_episode(B, N, K, Q, H=24, W=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    si = torch.randn(B, N, K, 3, H, W, generator=g)
    fg = (torch.rand(B, N, K, H, W, generator=g) > 0.7).float()
    fg[..., H // 2, W // 2] = 1  # never empty
    bg = 1 - fg
    qi = torch.randn(B, Q, 3, H, W, generator=g)
    return si, fg, bg, qi


def pixels(*rgb):
    """A 1 x len(rgb) image from RGB triples: [3, 1, W]."""
    return torch.tensor(rgb, dtype=torch.float).T.reshape(3, 1, len(rgb))


def test_par_known_answer_by_hand():
    # Identity encoder: features = pixels. Support: red foreground, green background.
    # The query (red, green) is predicted (fg, bg); its prototypes are red and green
    # again, so re-segmenting the support with alpha = 1 gives logits (0, 1) on the
    # red pixel (label 1) and (1, 0) on the green one (label 0): CE = log(1 + e^-1) each.
    model = PANet(nn.Identity(), alpha=1.0).train()
    si = pixels((1, 0, 0), (0, 1, 0))[None, None, None]
    fg = torch.tensor([[1.0, 0.0]]).reshape(1, 1, 1, 1, 2)
    qi = pixels((1, 0, 0), (0, 1, 0))[None, None]
    out = model(si, fg, 1 - fg, qi)
    assert out.logits[0, 0].argmax(0).tolist() == [[1, 0]]
    assert out.par_loss.item() == pytest.approx(math.log(1 + math.exp(-1)), rel=1e-5)


def test_par_skips_a_way_the_query_never_predicts():
    # 2-way: way 2's support is blue, the query has no blue: way 2 is skipped and
    # the way-1 term is divided by N = 2.
    model = PANet(nn.Identity(), alpha=1.0).train()
    si = torch.stack([pixels((1, 0, 0), (0, 1, 0)), pixels((0, 0, 1), (0, 1, 0))])[None, :, None]
    fg = torch.tensor([[1.0, 0.0], [1.0, 0.0]]).reshape(1, 2, 1, 1, 2)
    qi = pixels((1, 0, 0), (0, 1, 0))[None, None]
    out = model(si, fg, 1 - fg, qi)
    assert out.par_loss.item() == pytest.approx(math.log(1 + math.exp(-1)) / 2, rel=1e-5)


def test_support_label_background_wins_and_rest_is_ignored():
    fg = torch.tensor([1.0, 1.0, 0.0, 0.0])
    bg = torch.tensor([0.0, 1.0, 1.0, 0.0])
    assert support_labels(fg, bg).tolist() == [1, 0, 0, 255]


@pytest.mark.parametrize("B,N,K,Q", [(1, 1, 1, 1), (2, 1, 5, 1), (2, 2, 1, 2), (3, 3, 2, 1)])
def test_equals_the_original_loops(B, N, K, Q):
    torch.manual_seed(0)
    enc = small_encoder(16).double()
    si, fg, bg, qi = (t.double() for t in random_episode(B, N, K, Q, seed=B * 100 + N * 10 + K))
    model = PANet(enc).train()
    out = model(si, fg, bg, qi)
    want_logits, want_align = ref.forward(enc, si, fg, bg, qi)
    assert out.logits.shape == (B, Q, 1 + N, 24, 20)
    assert out.low_res_logits.shape == (B, Q, 1 + N, 3, 3)
    assert torch.allclose(out.logits, want_logits, atol=1e-9)
    assert out.par_loss.detach().item() == pytest.approx(float(torch.as_tensor(want_align).detach()), rel=1e-9, abs=1e-12)


def test_eval_mode_and_par_off_give_zero_par():
    si, fg, bg, qi = random_episode(1, 1, 1, 1)
    model = PANet(small_encoder(16)).eval()
    assert model(si, fg, bg, qi).par_loss.item() == 0.0
    model = PANet(small_encoder(16), par=False).train()
    assert model(si, fg, bg, qi).par_loss.item() == 0.0


def test_gradients_reach_every_encoder_parameter_through_both_losses():
    torch.manual_seed(1)
    si, fg, bg, qi = random_episode(2, 2, 1, 1, H=32, W=32)
    labels = torch.randint(0, 3, (2, 1, 32, 32))
    for which in ("query", "par"):
        model = PANet(small_encoder(16)).train()
        out = model(si, fg, bg, qi)
        loss = query_loss(out.logits, labels) if which == "query" else out.par_loss
        assert loss.item() > 0
        loss.backward()
        for name, p in model.encoder.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, f"{which}: no gradient for {name}"


def test_query_loss_ignores_255():
    logits = torch.zeros(1, 1, 2, 1, 2)
    logits[0, 0, 1, 0, 0] = 10.0
    labels = torch.tensor([[[[1, 255]]]])
    assert query_loss(logits, labels).item() == pytest.approx(math.log(1 + math.exp(-10)), rel=1e-3)
    with pytest.raises(ValueError, match="do not match"):
        query_loss(logits, torch.zeros(1, 1, 3, 3, dtype=torch.long))


def test_par_gradients_are_the_originals():
    # PAR's value is compared with the original's loops above; here its gradient, which is what
    # training uses: through the support features and the query prototypes, none through the hard
    # query masks. Both sides differentiate the same double-precision encoder.
    torch.manual_seed(2)
    enc = small_encoder(16).double()
    si, fg, bg, qi = (t.double() for t in random_episode(2, 2, 2, 2, seed=7))
    model = PANet(enc).train()
    ours = torch.autograd.grad(model(si, fg, bg, qi).par_loss, list(enc.parameters()))
    _, align = ref.forward(enc, si, fg, bg, qi)
    theirs = torch.autograd.grad(align, list(enc.parameters()))
    for (name, _), a, b in zip(enc.named_parameters(), ours, theirs):
        assert b.abs().sum() > 0, name  # the original's PAR reaches every parameter
        torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-12, msg=name)


def test_head_stays_fp32_under_autocast():
    # The encoder may run in bf16; pooling, cosine and PAR must not (bf16 logits are off by ~0.1).
    si, fg, bg, qi = random_episode(1, 1, 1, 1, H=33, W=33)
    model = PANet(small_encoder(8)).train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(si, fg, bg, qi)
    assert out.logits.dtype == torch.float32 and out.low_res_logits.dtype == torch.float32
    assert out.par_loss.dtype == torch.float32


def test_query_loss_is_zero_not_nan_when_every_pixel_is_ignored():
    logits = torch.randn(1, 1, 2, 4, 4)
    assert query_loss(logits, torch.full((1, 1, 4, 4), 255)).item() == 0.0
