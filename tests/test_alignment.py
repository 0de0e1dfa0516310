"""PAR's one implementation: the loss and the intermediates it returns, skipped ways."""
import pytest
import torch

from panet_min import alignment, reference as ref, small_encoder
from panet_min.alignment import par_loss, par_terms
from panet_min.model import PANet


def episode_with_a_skipped_way(seed=0):
    """2 episodes, 2-way 2-shot; way 2 of episode 0 never wins the query argmax."""
    g = torch.Generator().manual_seed(seed)
    B, N, K, Q, H, W = 2, 2, 2, 2, 24, 20
    si = torch.randn(B, N, K, 3, H, W, generator=g, dtype=torch.float64)
    fg = (torch.rand(B, N, K, H, W, generator=g) > 0.6).double()
    qi = torch.randn(B, Q, 3, H, W, generator=g, dtype=torch.float64)
    torch.manual_seed(seed)
    enc = small_encoder(16).double()
    with torch.no_grad():
        feats = enc(torch.cat([si.flatten(0, 2), qi.flatten(0, 1)]))
    sf = feats[:B * N * K].reshape(B, N, K, *feats.shape[1:])
    qf = feats[B * N * K:].reshape(B, Q, *feats.shape[1:])
    model = PANet(enc, par=False).eval()
    logits = model(si, fg, 1 - fg, qi).low_res_logits.detach().clone()
    logits[0, :, 2] = -100.0
    return enc, si, fg, qi, sf, qf, logits


def reference_loss(sf, qf, logits, fg):
    """The original's align_loss per episode (a Python loop that skips empty ways), mean over B."""
    losses = [ref.align_loss_fn(qf[b], logits[b], sf[b], fg[b], 1 - fg[b], 20.0) for b in range(len(fg))]
    return sum(float(loss) for loss in losses) / len(fg)


def test_par_terms_is_par_loss_and_its_parts_add_up():
    _, _, fg, _, sf, qf, logits = episode_with_a_skipped_way()
    parts = par_loss(sf, qf, logits, fg, 1 - fg, return_parts=True)
    assert parts["loss"].item() == par_loss(sf, qf, logits, fg, 1 - fg).item()
    B, N, K = fg.shape[:3]
    assert parts["present"].tolist() == [[True, False], [True, True]]
    assert parts["query_hard"].shape == logits.shape[:2] + logits.shape[3:]
    assert parts["query_prototypes"].shape == (B, 1 + N, qf.shape[2])
    assert parts["support_logits"].shape == (B, N, K, 2, *fg.shape[-2:])
    assert (parts["terms"][0, 1] == 0).all() and (parts["terms"][parts["present"]] > 0).all()
    kept = (parts["support_labels"] != 255).sum(dim=(-2, -1))
    per_support = parts["pixel_loss"].sum(dim=(-2, -1)) / kept * parts["present"][..., None]
    torch.testing.assert_close(per_support, parts["terms"])
    assert parts["loss"].item() == pytest.approx((parts["terms"].sum(dim=(1, 2)) / (N * K)).mean().item())
    assert parts["loss"].item() == pytest.approx(reference_loss(sf, qf, logits, fg), rel=1e-9)


def test_a_pipeline_that_ignores_skipped_ways_is_caught(monkeypatch):
    _, _, fg, _, sf, qf, logits = episode_with_a_skipped_way()
    want = reference_loss(sf, qf, logits, fg)
    real = alignment.query_prototypes

    def every_way_present(query_features, low_res_logits):  # the mutant: no way is ever skipped
        protos, present = real(query_features, low_res_logits)
        return protos, torch.ones_like(present)

    monkeypatch.setattr(alignment, "query_prototypes", every_way_present)
    mutant = par_terms(sf, qf, logits, fg, 1 - fg)["loss"].item()
    monkeypatch.undo()
    assert mutant != pytest.approx(want, rel=1e-6)  # the skipped way's term is not 0: it would count
    assert par_terms(sf, qf, logits, fg, 1 - fg)["loss"].item() == pytest.approx(want, rel=1e-9)


def test_gradients_reach_both_feature_sets_never_the_masks_nor_a_skipped_way():
    # What training relies on: L_PAR's gradient flows into the support features and, through the
    # query prototypes, into the query features, exactly as the original's loops; none flows through
    # the hard query masks (the logits), and a skipped way's supports get none.
    _, _, fg, _, sf, qf, logits = episode_with_a_skipped_way()
    grads = {}
    for name, loss_of in (("ours", lambda s, q, lg: par_terms(s, q, lg, fg, 1 - fg)["loss"]),
                          ("original", lambda s, q, lg: sum(ref.align_loss_fn(q[b], lg[b], s[b], fg[b], 1 - fg[b], 20.0)
                                                            for b in range(len(fg))) / len(fg))):
        s, q, lg = (t.clone().requires_grad_(True) for t in (sf, qf, logits))
        grads[name] = torch.autograd.grad(loss_of(s, q, lg), [s, q, lg], allow_unused=True)
    (gs, gq, glg), (rs, rq, rlg) = grads["ours"], grads["original"]
    torch.testing.assert_close(gs, rs, rtol=1e-9, atol=1e-15)
    torch.testing.assert_close(gq, rq, rtol=1e-9, atol=1e-15)
    assert gq.abs().sum() > 0 and gs[1].abs().sum() > 0  # both paths carry a gradient
    assert (gs[0, 1] == 0).all() and (gs[0, 0] != 0).any()  # way 2 of episode 0 is skipped
    assert glg is None or (glg == 0).all()  # argmax masks: no gradient to the logits
    assert rlg is None or (rlg == 0).all()
