import pytest
import torch
import torch.nn.functional as F

from lmac.errors import LmacError
from lmac.explainers.lmac_loss import PRESETS, LossWeights, lmac_loss, total_variation


def test_presets_are_the_published_weight_sets():
    assert PRESETS["recipe"] == {"l_in": 4.0, "l_out": 0.2, "l1": 0.4, "tv": 0.0}
    assert PRESETS["paper-era"] == {"l_in": 0.5, "l_out": 0.5, "l1": 0.3, "tv": 0.1}
    w = LossWeights.from_config({"preset": "paper-era", "l1": 1.0})
    assert (w.l_in, w.l_out, w.l1, w.tv) == (0.5, 0.5, 1.0, 0.1)
    with pytest.raises(LmacError, match="unknown preset 'nope'"):
        LossWeights.from_config({"preset": "nope"})


def test_loss_terms_hand_computed():
    torch.manual_seed(0)
    li, lo = torch.randn(3, 4), torch.randn(3, 4)
    y = torch.tensor([0, 2, 1])
    mask = torch.rand(3, 5, 6)
    w = LossWeights(l_in=2.0, l_out=0.5, l1=0.3, tv=0.7)
    total, parts = lmac_loss(li, lo, y, mask, w)
    tv = ((mask[:, 1:] - mask[:, :-1]) ** 2).mean() + ((mask[:, :, 1:] - mask[:, :, :-1]) ** 2).mean()
    expected = 2.0 * F.cross_entropy(li, y) - 0.5 * F.cross_entropy(lo, y) + 0.3 * mask.mean() + 0.7 * tv
    assert total.item() == pytest.approx(expected.item(), rel=1e-6)
    assert parts["tv"] == pytest.approx(tv.item(), rel=1e-6)


def test_reference_reduction_scales_with_batch_size():
    mask = torch.full((4, 3, 3), 0.5)
    mask[:, 1, :] = 1.0
    logits, y = torch.zeros(4, 2), torch.zeros(4, dtype=torch.long)
    _, mean_parts = lmac_loss(logits, logits, y, mask, LossWeights(reduction="mean"))
    _, ref_parts = lmac_loss(logits, logits, y, mask, LossWeights(reduction="reference"))
    assert ref_parts["l1"] == pytest.approx(4 * mean_parts["l1"])
    # reference TV: (Σ time-diff² + Σ freq-diff²) / (2B), times B
    sums = ((mask[:, 1:] - mask[:, :-1]) ** 2).sum() + ((mask[:, :, 1:] - mask[:, :, :-1]) ** 2).sum()
    assert ref_parts["tv"] == pytest.approx((sums / 8 * 4).item())
    assert total_variation(torch.ones(2, 3, 3), "mean").item() == 0.0
