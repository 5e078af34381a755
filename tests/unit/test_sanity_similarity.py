"""Spearman rank correlation and SSIM between explanation maps, on cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr
from skimage.metrics import structural_similarity

from lmac.errors import LmacError
from lmac.sanity.similarity import Reference, minmax, spearman, ssim


@pytest.fixture
def maps() -> np.ndarray:
    return np.random.default_rng(0).random((3, 20, 24))


def test_identical_maps_score_one(maps):
    np.testing.assert_allclose(spearman(maps, maps), 1.0)
    np.testing.assert_allclose(ssim(maps, maps), 1.0)


def test_reversed_ranking_scores_minus_one(maps):
    reversed_maps = 1.0 / (maps + 0.1)  # strictly decreasing in the map: every rank reversed
    np.testing.assert_allclose(spearman(maps, reversed_maps), -1.0)
    assert (ssim(maps, reversed_maps) < 0).all()  # normalised structure is inverted too


def test_spearman_compares_absolute_values(maps):
    # Adebayo et al.'s reported variant: the sign of an attribution does not count
    np.testing.assert_allclose(spearman(maps, -maps), 1.0)


def test_spearman_agrees_with_scipy_with_ties():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 4, size=(4, 10, 12)).astype(float)  # many ties
    b = a + rng.integers(0, 3, size=a.shape)
    expected = [spearmanr(x.ravel(), y.ravel()).statistic for x, y in zip(a, b)]
    np.testing.assert_allclose(spearman(a, b), expected, rtol=1e-12)


def test_scores_are_invariant_to_scale_and_offset(maps):
    np.testing.assert_allclose(spearman(maps, 3 * maps + 1), 1.0)
    np.testing.assert_allclose(ssim(maps, 3 * maps + 1), 1.0)


def test_independent_maps_score_near_zero():
    rng = np.random.default_rng(2)
    a, b = rng.random((5, 64, 64)), rng.random((5, 64, 64))
    assert np.abs(spearman(a, b)).max() < 0.1
    assert np.abs(ssim(a, b)).max() < 0.1


def test_constant_maps_follow_the_documented_rule(maps):
    ones = np.ones_like(maps)
    np.testing.assert_allclose(spearman(ones, 0.5 * ones), 1.0)  # both carry no ranking: unchanged
    np.testing.assert_allclose(spearman(ones, maps), 0.0)  # one constant: no rank association
    np.testing.assert_allclose(spearman(maps, ones), 0.0)
    np.testing.assert_allclose(ssim(ones, 0.5 * ones), 1.0)  # both normalise to zeros


def test_ssim_is_skimage_on_min_max_normalised_maps(maps):
    other = maps + np.random.default_rng(3).normal(0, 0.3, maps.shape)
    unit_a, unit_b = minmax(maps), minmax(other)
    assert unit_b.min() == 0 and unit_b.max() == 1
    expected = [structural_similarity(x, y, data_range=1.0) for x, y in zip(unit_a, unit_b)]
    np.testing.assert_allclose(ssim(maps, other), expected)
    assert all(0 < e < 1 for e in expected)


def test_reference_caches_and_agrees_with_the_functions(maps):
    other = np.random.default_rng(4).random(maps.shape)
    scores = Reference(maps).compare(other)
    np.testing.assert_allclose(scores["spearman"], spearman(maps, other))
    np.testing.assert_allclose(scores["ssim"], ssim(maps, other))


def test_shape_mismatch_is_a_one_line_error(maps):
    with pytest.raises(LmacError, match="shape"):
        spearman(maps, maps[:, :10])
    with pytest.raises(LmacError, match="shape"):
        Reference(maps).compare(maps[:2])
