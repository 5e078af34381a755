"""SPS and COMP equal Quantus's Sparseness / Complexity (abs=True), which the reference called.

Quantus is only a test oracle here. Its metric objects are called whole (``metric(model=None,
x_batch=…, y_batch=…, a_batch=…)``, the reference's call; these two metrics never use the model).
Quantus 0.6 max-normalises a batch by its overall max, which changes Sparseness through the 1e-7
offset; lmac normalises per map, i.e. Quantus called one map at a time, so maps of different
maxima are compared one at a time and whole batches where every map has max 1.
"""

import math

import numpy as np
import pytest
import torch

from lmac.evaluation.metrics import complexity, sparseness

quantus = pytest.importorskip("quantus")


def _random_maps(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """Maps with signs, exact zeros and a heavy tail, like attributions (float64 so Quantus is exact)."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape) * rng.exponential(1.0, shape) ** 3
    a[rng.random(shape) < 0.3] = 0.0
    return a


def _quantus(metric_cls, a: np.ndarray) -> np.ndarray:
    metric = metric_cls(abs=True, disable_warnings=True)
    x = np.zeros((a.shape[0], 1, *a.shape[1:]))
    return np.asarray(
        metric(model=None, x_batch=x, y_batch=np.zeros(a.shape[0], dtype=int), a_batch=a[:, None].copy()),
        dtype=np.float64,
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sparseness_equals_quantus_map_by_map(seed):
    a = _random_maps(seed, (4, 24, 33))
    ours = sparseness(torch.from_numpy(a)).numpy()
    for i in range(len(a)):
        # float64: the same operations in the same order, so far tighter than the 1e-5 required
        assert ours[i] == pytest.approx(_quantus(quantus.Sparseness, a[i : i + 1])[0], abs=1e-9)


def test_sparseness_equals_quantus_on_a_batch_of_unit_max_maps():
    a = _random_maps(5, (6, 20, 17))
    a /= np.abs(a).reshape(6, -1).max(1)[:, None, None]  # every map max 1, like a baseline mask
    np.testing.assert_allclose(
        sparseness(torch.from_numpy(a)).numpy(), _quantus(quantus.Sparseness, a), atol=1e-9, rtol=0
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_complexity_equals_quantus(seed):
    a = _random_maps(seed, (5, 24, 33))
    # Quantus 0.6 takes ln(p + 1e-12): at most d·1e-12 from the exact entropy
    np.testing.assert_allclose(
        complexity(torch.from_numpy(a)).numpy(), _quantus(quantus.Complexity, a), atol=1e-8, rtol=0
    )


def test_sparseness_and_complexity_equal_quantus_on_soft_masks_of_paper_size():
    # 425 × 513 sigmoid masks like L-MAC's, in float32 as evaluation passes them
    rng = np.random.default_rng(7)
    logits = rng.normal(-2.0, 3.0, (2, 425, 513))
    mask = (1 / (1 + np.exp(-logits))).astype(np.float32)
    ours_sps = sparseness(torch.from_numpy(mask)).numpy()
    ours_comp = complexity(torch.from_numpy(mask)).numpy()
    ref = mask.astype(np.float64)
    for i in range(2):
        assert ours_sps[i] == pytest.approx(_quantus(quantus.Sparseness, ref[i : i + 1])[0], abs=1e-5)
    np.testing.assert_allclose(ours_comp, _quantus(quantus.Complexity, ref), atol=1e-5, rtol=0)
    assert ours_comp.max() < math.log(425 * 513)


def test_quantus_refuses_all_zero_maps_and_lmac_returns_nan():
    zero = np.zeros((1, 8, 9))
    for metric_cls in (quantus.Sparseness, quantus.Complexity):
        with pytest.raises(AssertionError):
            _quantus(metric_cls, zero)
    assert math.isnan(sparseness(torch.zeros(1, 8, 9)).item())
    assert math.isnan(complexity(torch.zeros(1, 8, 9)).item())
