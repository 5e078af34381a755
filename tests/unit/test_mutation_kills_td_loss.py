"""LMAC-TD loss cases that the mutation run (docs/mutation.md) showed the other tests did not pin."""

from __future__ import annotations

import re

import pytest
import torch

from lmac.errors import LmacError
from lmac.explainers.lmac_td_loss import TDLossWeights, lmac_td_loss, si_snr


def test_unknown_weight_lists_the_known_ones():
    with pytest.raises(LmacError, match=re.escape("lmac_td.loss.nope: unknown weight (known: l_in, l_out, l1, sisnr)")):
        TDLossWeights.from_config(overrides={"nope": 1.0})


def test_si_snr_of_an_orthogonal_estimate_is_the_guards_floor():
    # no projection on the reference: 10·log10(0 + eps) = -80 dB, finite (SpeechBrain's guard)
    ref = torch.zeros(1, 64, dtype=torch.float64)
    ref[0, 0], ref[0, 1] = 1.0, -1.0
    est = torch.zeros(1, 64, dtype=torch.float64)
    est[0, 2], est[0, 3] = 1.0, -1.0
    assert si_snr(est, ref).item() == pytest.approx(-80.0)


def test_a_small_sisnr_weight_still_trains_the_explanation():
    g = torch.Generator().manual_seed(0)
    wav, out = torch.randn(2, 800, generator=g), torch.randn(2, 800, generator=g)
    explanation = torch.randn(2, 800, generator=g).requires_grad_(True)
    logits, target = torch.zeros(2, 3), torch.tensor([0, 1])
    total, _ = lmac_td_loss(
        logits, logits, target, torch.zeros(2, 4, 5), explanation, out, wav, TDLossWeights(0, 0, 0, 0.5)
    )
    total.backward()
    assert explanation.grad.abs().sum() > 0
