"""The reference's double-softmax AD is bounded by 100·(1 − 1/e) ≈ 63.2 % whatever the number of classes."""

import math

import pytest
import torch

from lmac.evaluation.metrics import faithfulness


@pytest.mark.parametrize("n_classes", [2, 10, 50, 527])
def test_ad_ref_reaches_but_never_exceeds_one_minus_one_over_e(n_classes):
    bound = 100 * (1 - 1 / math.e)
    # the extreme: all probability on c for the input, all on another class once masked
    p = torch.full((1, n_classes), -1e4)
    p[0, 0] = 1e4
    o = torch.full((1, n_classes), -1e4)
    o[0, 1] = 1e4
    worst = float(faithfulness(p, o, o)["AD_ref"][0])
    assert worst == pytest.approx(bound, abs=1e-3)
    g = torch.Generator().manual_seed(n_classes)
    logits = torch.randn(2000, n_classes, generator=g) * 20
    masked = torch.randn(2000, n_classes, generator=g) * 20
    assert float(faithfulness(logits, masked, masked)["AD_ref"].max()) <= bound + 1e-4
