"""Loss cases that the mutation run (docs/mutation.md) showed the other tests did not pin."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F

from lmac.errors import LmacError
from lmac.explainers.lmac_loss import LossWeights, lmac_loss, total_variation


def case(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    li, lo = torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g)
    return li, lo, torch.tensor([0, 2, 1]), torch.rand(3, 5, 6, generator=g)


def test_lmac_classification_terms_without_regularisers():
    # with L1 and TV off the loss is exactly λ_in·CE_in − λ_out·CE_out (the hand-computed case with
    # TV on is dominated by TV ~5·10⁵ and cannot see the sign of the masked-out term)
    li, lo, y, mask = case()
    total, parts = lmac_loss(li, lo, y, mask, LossWeights(l_in=2.0, l_out=0.5, l1=0.0, tv=0.0))
    expected = 2.0 * F.cross_entropy(li, y) - 0.5 * F.cross_entropy(lo, y)
    assert total.item() == pytest.approx(expected.item(), rel=1e-6)


def test_lmac_rewards_a_masked_out_input_that_loses_the_class():
    # the gradient of the masked-out term pushes the masked-out logits of the target class *down*
    li, lo, y, mask = case(1)
    lo = lo.clone().requires_grad_(True)
    for w in (LossWeights(), LossWeights.from_config({"preset": "paper-era"})):
        lo.grad = None
        total, _ = lmac_loss(li, lo, y, mask, w)
        total.backward()
        assert (lo.grad.gather(1, y[:, None]) > 0).all()  # descending lowers the target logit


def test_lmac_recipe_loss_hand_computed_without_tv():
    # the recipe has TV off, so the L1 term is visible next to the CE terms
    li, lo, y, mask = case(2)
    total, _ = lmac_loss(li, lo, y, mask, LossWeights())
    expected = 4.0 * F.cross_entropy(li, y) - 0.2 * F.cross_entropy(lo, y) + 0.4 * 16 * mask.mean()
    assert total.item() == pytest.approx(expected.item(), rel=1e-6)


def test_lmac_weights_override_every_preset_value():
    w = LossWeights.from_config({"preset": "paper-era", "l_in": 1.0, "l_out": 2.0, "l1": 3.0, "tv": 4.0})
    assert w.as_dict() == {"l_in": 1.0, "l_out": 2.0, "l1": 3.0, "tv": 4.0, "reduction": "mean"}


def test_lmac_errors_name_the_key_and_the_choices():
    with pytest.raises(
        LmacError, match=re.escape("lmac.loss.preset: unknown preset 'x' (choose from recipe, paper-era)")
    ):
        LossWeights.from_config({"preset": "x"})
    with pytest.raises(LmacError, match=re.escape("lmac.loss.reduction: unknown value 'sum' (mean or reference)")):
        total_variation(torch.ones(1, 2, 2), "sum")
