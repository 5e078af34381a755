"""Metric cases that the mutation run (docs/mutation.md) showed the other tests did not pin."""

from __future__ import annotations

import pytest
import torch

from lmac.evaluation.metrics import all_metrics, complexity, faithfulness, sparseness


def test_faithfulness_values_are_in_the_logits_dtype():
    logits = torch.tensor([[2.0, 0.0, -1.0]], dtype=torch.float64)
    out = faithfulness(logits, logits * 2, logits.flip(-1))
    assert {name: value.dtype for name, value in out.items()} == dict.fromkeys(out, torch.float64)
    assert out["FidIn"].item() == 1.0 and out["AI"].item() == 100.0


def test_complexity_of_a_float32_map_is_float32():
    assert complexity(torch.rand(2, 5, 4)).dtype == torch.float32
    assert complexity(torch.rand(2, 5, 4, dtype=torch.float64)).dtype == torch.float64


def test_sparseness_does_not_depend_on_the_maps_scale_below_one():
    # the offset 1e-7 is added after dividing by the peak, so a map and a hundredth of it score alike
    m = torch.rand(2, 40, 30, generator=torch.Generator().manual_seed(0), dtype=torch.float64) ** 4
    torch.testing.assert_close(sparseness(m * 0.01), sparseness(m), rtol=1e-12, atol=0)


def test_all_metrics_scores_the_given_target():
    logits = torch.tensor([[3.0, 0.0]])
    logits_in = torch.tensor([[0.0, 3.0]])
    mask = torch.full((1, 4, 3), 0.5)
    # class 1 is not the argmax, and the masked-in input raises its probability
    scores = all_metrics(logits, logits_in, logits, mask, target=torch.tensor([1]))
    assert scores["AI"].item() == 100.0 and scores["FidIn"].item() == 1.0
    assert all_metrics(logits, logits_in, logits, mask)["AI"].item() == pytest.approx(0.0)
