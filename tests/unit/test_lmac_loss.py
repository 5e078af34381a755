import pytest
import torch
import torch.nn.functional as F

from lmac.errors import LmacError
from lmac.explainers.lmac_loss import PRESETS, REFERENCE_BATCH, REFERENCE_MASK, LossWeights, lmac_loss, total_variation


def sums(mask):
    return ((mask[:, 1:] - mask[:, :-1]) ** 2).sum() + ((mask[:, :, 1:] - mask[:, :, :-1]) ** 2).sum()


def test_presets_are_the_published_weight_sets():
    assert PRESETS["recipe"] == {"l_in": 4.0, "l_out": 0.2, "l1": 0.4, "tv": 0.0}
    assert PRESETS["paper-era"] == {"l_in": 0.5, "l_out": 0.5, "l1": 0.3, "tv": 0.1}
    w = LossWeights.from_config({"preset": "paper-era", "l1": 1.0})
    assert (w.l_in, w.l_out, w.l1, w.tv, w.reduction) == (0.5, 0.5, 1.0, 0.1, "mean")
    assert LossWeights.from_config({}) == LossWeights(4.0, 0.2, 0.4, 0.0, "mean")
    with pytest.raises(LmacError, match="unknown preset 'nope'"):
        LossWeights.from_config({"preset": "nope"})
    with pytest.raises(LmacError, match="reduction: unknown value 'sum'"):
        LossWeights.from_config({"reduction": "sum"})


def test_mean_reduction_hand_computed():
    torch.manual_seed(0)
    li, lo = torch.randn(3, 4), torch.randn(3, 4)
    y = torch.tensor([0, 2, 1])
    mask = torch.rand(3, 5, 6)
    w = LossWeights(l_in=2.0, l_out=0.5, l1=0.3, tv=0.7)
    total, parts = lmac_loss(li, lo, y, mask, w)
    t_ref, f_ref = REFERENCE_MASK
    l1 = 16 * mask.mean()
    tv = 8 * (
        (t_ref - 1) * f_ref * ((mask[:, 1:] - mask[:, :-1]) ** 2).mean()
        + t_ref * (f_ref - 1) * ((mask[:, :, 1:] - mask[:, :, :-1]) ** 2).mean()
    )
    expected = 2.0 * F.cross_entropy(li, y) - 0.5 * F.cross_entropy(lo, y) + 0.3 * l1 + 0.7 * tv
    assert total.item() == pytest.approx(expected.item(), rel=1e-5)
    assert parts["l1"] == pytest.approx(l1.item(), rel=1e-6)
    assert parts["tv"] == pytest.approx(tv.item(), rel=1e-5)
    assert total.item() == pytest.approx(
        2.0 * parts["ce_in"] - 0.5 * parts["ce_out"] + 0.3 * parts["l1"] + 0.7 * parts["tv"], rel=1e-5
    )


def test_reference_reduction_is_the_recipe_formula():
    mask = torch.full((4, 3, 3), 0.5)
    mask[:, 1, :] = 1.0
    logits, y = torch.zeros(4, 2), torch.zeros(4, dtype=torch.long)
    _, parts = lmac_loss(logits, logits, y, mask, LossWeights(reduction="reference"))
    assert parts["l1"] == pytest.approx(4 * mask.mean().item())  # batch-mean × B
    assert parts["tv"] == pytest.approx((sums(mask) / 8 * 4).item())  # Σ / (2B) × B
    assert total_variation(torch.ones(2, 3, 3), "mean").item() == 0.0


def test_mean_equals_reference_at_the_reference_operating_point():
    # batch 16, a 5 s mask (425 x 513): the two reductions are the same loss
    g = torch.Generator().manual_seed(0)
    mask = torch.rand(REFERENCE_BATCH, *REFERENCE_MASK, generator=g)
    li, lo = torch.randn(16, 5, generator=g), torch.randn(16, 5, generator=g)
    y = torch.randint(0, 5, (16,), generator=g)
    for preset in PRESETS:
        mean, pm = lmac_loss(li, lo, y, mask, LossWeights.from_config({"preset": preset, "reduction": "mean"}))
        ref, pr = lmac_loss(li, lo, y, mask, LossWeights.from_config({"preset": preset, "reduction": "reference"}))
        assert mean.item() == pytest.approx(ref.item(), rel=1e-4)
        assert pm["l1"] == pytest.approx(pr["l1"], rel=1e-4) and pm["tv"] == pytest.approx(pr["tv"], rel=1e-4)
    # and the recipe's effective L1 weight is 0.4 x 16 = 6.4 per mask element
    constant = torch.full((16, *REFERENCE_MASK), 0.5)
    _, parts = lmac_loss(li, lo, y, constant, LossWeights())
    assert 0.4 * parts["l1"] == pytest.approx(6.4 * 0.5)


def test_mean_reduction_does_not_depend_on_batch_size():
    g = torch.Generator().manual_seed(1)
    mask = torch.rand(4, 20, 9, generator=g)
    logits, y = torch.randn(4, 3, generator=g), torch.tensor([0, 1, 2, 0])
    w_mean, w_ref = LossWeights(tv=0.1), LossWeights(tv=0.1, reduction="reference")
    twice = (logits.repeat(2, 1), logits.repeat(2, 1), y.repeat(2), mask.repeat(2, 1, 1))
    a, _ = lmac_loss(logits, logits, y, mask, w_mean)
    b, _ = lmac_loss(*twice, w_mean)
    assert a.item() == pytest.approx(b.item(), rel=1e-6)
    a, pa = lmac_loss(logits, logits, y, mask, w_ref)
    b, pb = lmac_loss(*twice, w_ref)
    assert pb["l1"] == pytest.approx(2 * pa["l1"]) and pb["tv"] == pytest.approx(2 * pa["tv"])


def test_exempt_samples_leave_l1_and_tv():
    mask = torch.stack([torch.full((6, 5), 0.9), torch.rand(6, 5, generator=torch.Generator().manual_seed(2))])
    logits, y = torch.zeros(2, 3), torch.zeros(2, dtype=torch.long)
    keep_second = torch.tensor([0.0, 1.0])
    _, only_second = lmac_loss(logits, logits, y, mask, LossWeights(), keep_second)
    _, alone = lmac_loss(logits[1:], logits[1:], y[1:], mask[1:], LossWeights())
    # per-sample mean over the whole batch: the exempt sample contributes nothing
    assert only_second["l1"] == pytest.approx(alone["l1"] / 2, rel=1e-6)
    assert only_second["tv"] == pytest.approx(alone["tv"] / 2, rel=1e-6)
    _, none = lmac_loss(logits, logits, y, mask, LossWeights(), torch.zeros(2))
    assert none["l1"] == 0.0 and none["tv"] == 0.0
    # the reference keeps the batch-wide mean and multiplies it by the number of regularised samples
    _, ref = lmac_loss(logits, logits, y, mask, LossWeights(reduction="reference"), keep_second)
    assert ref["l1"] == pytest.approx(mask.mean().item(), rel=1e-6)
    assert ref["tv"] == pytest.approx((sums(mask) / 4).item(), rel=1e-6)
