"""LMAC-TD loss: each term on a small case, SI-SNR against SpeechBrain, presets and overrides."""

from __future__ import annotations

import math

import pytest
import torch
from speechbrain.nnet.losses import get_si_snr_with_pitwrapper

from lmac.errors import LmacError
from lmac.explainers.lmac_td_loss import TDLossWeights, lmac_td_loss, si_snr

SR = 16000


def terms(clf, i, o, x):
    """What the trainer feeds the loss: f(i), f(o), ŷ = argmax f(x), log1p|STFT(i)|."""
    fe = clf.frontend
    target = clf(x)[0].argmax(-1)
    return clf(i)[0], clf(o)[0], target, fe.log_spectrogram(i)


def test_identical_explanation_and_input_give_the_classifier_own_cross_entropy(clf):
    torch.manual_seed(1)
    x = torch.randn(3, SR) * 0.1
    o = torch.randn(3, SR) * 0.1
    logits_in, logits_out, target, logspec = terms(clf, x, o, x)
    total, parts = lmac_td_loss(logits_in, logits_out, target, logspec, x, o, x, TDLossWeights(1.0, 0.0, 0.0, 0.0))
    # CE of the argmax class: log Σ exp(z) − max z, averaged over the batch
    logits = clf(x)[0]
    expected = (torch.logsumexp(logits, -1) - logits.max(-1).values).mean()
    assert parts["ce_in"] == pytest.approx(expected.item(), rel=1e-5)
    assert total.item() == pytest.approx(expected.item(), rel=1e-5)
    assert 0 < parts["ce_in"] < math.log(3)  # the argmax has more than 1/3 of the mass


def test_terms_combine_with_their_signs_and_weights(clf):
    torch.manual_seed(2)
    x, i, o = (torch.randn(2, SR) * 0.1 for _ in range(3))
    args = (*terms(clf, i, o, x), i, o, x)
    _, p = lmac_td_loss(*args, TDLossWeights(1, 1, 1, 1))
    w = TDLossWeights(l_in=5.0, l_out=0.2, l1=6.0, sisnr=0.5)
    total, _ = lmac_td_loss(*args, w)
    expected = 5.0 * p["ce_in"] - 0.2 * p["ce_out"] + 6.0 * p["l1"] - 0.5 * p["sisnr"]
    assert total.item() == pytest.approx(expected, rel=1e-5)


def test_l1_term_is_the_global_mean_log1p_magnitude_of_the_explanation(clf):
    torch.manual_seed(3)
    x, i, o = (torch.randn(2, SR) * 0.1 for _ in range(3))
    logits_in, logits_out, target, logspec = terms(clf, i, o, x)
    total, parts = lmac_td_loss(logits_in, logits_out, target, logspec, i, o, x, TDLossWeights(0, 0, 1, 0))
    window = torch.hamming_window(372)
    spec = torch.stft(i, 1024, 186, 372, window, center=True, pad_mode="constant", return_complex=True)
    expected = torch.log1p(spec.abs()).mean()
    assert total.item() == pytest.approx(expected.item(), rel=1e-4)
    assert parts["l1"] == pytest.approx(expected.item(), rel=1e-4)


def test_si_snr_matches_speechbrain_and_is_scale_invariant():
    torch.manual_seed(4)
    ref = torch.randn(3, 4000)
    est = ref + 0.3 * torch.randn(3, 4000)
    ours = si_snr(est, ref)
    theirs = -get_si_snr_with_pitwrapper(ref.unsqueeze(-1), est.unsqueeze(-1))  # [B, T, C=1]
    torch.testing.assert_close(ours, theirs.reshape(-1), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(si_snr(2.5 * est, ref), ours, rtol=1e-4, atol=1e-4)
    assert 8 < ours.mean().item() < 13  # 1 / 0.09 ≈ 10.5 dB


def test_sisnr_term_of_a_perfect_reconstruction(clf):
    torch.manual_seed(5)
    x = torch.randn(2, SR) * 0.1
    i = x * torch.rand(1, SR)  # any split with i + o = x
    o = x - i
    args = (*terms(clf, i, o, x), i, o, x)
    _, parts = lmac_td_loss(*args, TDLossWeights(0, 0, 0, 1))
    zero_mean = x - x.mean(-1, keepdim=True)
    energy = zero_mean.pow(2).sum(-1)
    # e ≈ 0 up to float error: the ratio is bounded by the 1e-8 guard, ||s||² / 1e-8
    assert parts["sisnr"] > 60
    assert parts["sisnr"] <= (10 * torch.log10(energy / 1e-8 + 1e-8)).mean().item() + 1e-3
    total, _ = lmac_td_loss(*args, TDLossWeights(0, 0, 0, 1))
    assert total.item() == pytest.approx(-parts["sisnr"], rel=1e-6)
    # off (the reference): reported, but no part of the loss
    total_off, parts_off = lmac_td_loss(*args, TDLossWeights(0, 0, 0, 0))
    assert total_off.item() == 0.0 and parts_off["sisnr"] == pytest.approx(parts["sisnr"])


def test_gradient_reaches_the_explanation_through_the_frozen_classifier(clf):
    torch.manual_seed(6)
    x = torch.randn(2, SR) * 0.1
    i = (x * 0.5).requires_grad_(True)
    o = x - i
    fe = clf.frontend
    logits_in, logits_out = clf(i)[0], clf(o)[0]
    loss, _ = lmac_td_loss(logits_in, logits_out, clf(x)[0].argmax(-1), fe.log_spectrogram(i), i, o, x, TDLossWeights())
    loss.backward()
    assert i.grad is not None and i.grad.abs().sum() > 0
    assert all(p.grad is None for p in clf.parameters())


def test_presets_and_overrides():
    assert TDLossWeights.from_config("pr2838") == TDLossWeights(5.0, 0.2, 6.0, 0.0)
    assert TDLossWeights.from_config("nov2024") == TDLossWeights(4.0, 0.2, 0.4, 0.0)
    assert TDLossWeights.from_config("nov2024", {"l1": 1.5, "l_in": None}) == TDLossWeights(4.0, 0.2, 1.5, 0.0)
    with pytest.raises(LmacError, match="lmac_td.loss.tv: unknown weight"):
        TDLossWeights.from_config("nov2024", {"tv": 1.0})
    with pytest.raises(LmacError, match="lmac_td.loss.sisnr: must be >= 0"):
        TDLossWeights.from_config("nov2024", {"sisnr": -1.0})
    with pytest.raises(LmacError, match="unknown preset"):
        TDLossWeights.from_config("recipe")
