"""Metrics on hand-computed cases."""

import math

import pytest
import torch

from lmac.evaluation.metrics import all_metrics, complexity, faithfulness, sparseness


def logits_for(probs):
    return torch.log(torch.tensor(probs, dtype=torch.float64)).float()


def test_faithfulness_hand_computed():
    # p_c = 0.6 on the input; masked-in raises it to 0.8; masked-out drops it to 0.1
    x = logits_for([[0.6, 0.3, 0.1]])
    x_in = logits_for([[0.8, 0.1, 0.1]])
    x_out = logits_for([[0.1, 0.5, 0.4]])
    m = faithfulness(x, x_in, x_out)
    assert m["AI"].item() == 100.0
    assert m["AD"].item() == pytest.approx(0.0)
    assert m["AG"].item() == pytest.approx(100 * (0.8 - 0.6) / (1 - 0.6), rel=1e-5)
    assert m["FF"].item() == pytest.approx(0.6 - 0.1, rel=1e-5)
    assert m["FidIn"].item() == 1.0


def test_average_drop_and_fid_in_when_the_mask_loses_the_class():
    x = logits_for([[0.6, 0.3, 0.1]])
    x_in = logits_for([[0.3, 0.6, 0.1]])
    m = faithfulness(x, x_in, x)
    assert m["AI"].item() == 0.0
    assert m["AD"].item() == pytest.approx(100 * 0.3 / 0.6, rel=1e-5)
    assert m["AG"].item() == 0.0
    assert m["FF"].item() == pytest.approx(0.0, abs=1e-6)
    assert m["FidIn"].item() == 0.0


def test_reference_ad_applies_softmax_twice():
    # evaluation.md §1.3: 50 classes, p_c 0.95 → 0.0 gives true AD 100 %, reported ≈ 60.9 %
    def probs(pc):
        rest = (1 - pc) / 49
        return [[max(pc, 1e-12)] + [rest] * 49]
    x, x_in = logits_for(probs(0.95)), logits_for(probs(0.0))
    m = faithfulness(x, x_in, x_in)
    assert m["AD"].item() == pytest.approx(100.0, rel=1e-4)
    assert m["AD_ref"].item() == pytest.approx(60.9, abs=0.1)


def test_sparseness_extremes():
    uniform = torch.ones(1, 10, 10)
    one_hot = torch.zeros(1, 10, 10)
    one_hot[0, 3, 4] = 1.0
    assert sparseness(uniform).item() == pytest.approx(0.0, abs=1e-6)
    # Gini of a single spike among d elements is (d-1)/d (up to the 1e-7 offset)
    assert sparseness(one_hot).item() == pytest.approx(99 / 100, abs=1e-4)


def test_complexity_extremes():
    assert complexity(torch.ones(1, 4, 5)).item() == pytest.approx(math.log(20), rel=1e-6)
    spike = torch.zeros(1, 4, 5)
    spike[0, 0, 0] = 3.0
    assert complexity(spike).item() == pytest.approx(0.0, abs=1e-9)


def test_all_ones_mask_changes_nothing():
    x = torch.randn(4, 5)
    m = all_metrics(x, x, x, torch.ones(4, 6, 7))
    assert torch.all(m["AI"] == 0) and torch.all(m["AD"] == 0) and torch.all(m["AG"] == 0)
    assert torch.all(m["FidIn"] == 1)
    torch.testing.assert_close(m["FF"], torch.zeros(4))
    torch.testing.assert_close(m["MM"], torch.ones(4))
