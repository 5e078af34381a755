"""Listenability scores against the clean target, on cases with known answers."""

from __future__ import annotations

import math

import pytest
import torch

from lmac.evaluation.listenability import (
    FLOOR_DB,
    LISTENABILITY_METRICS,
    energy_kept,
    listenability,
    log_spectral_distance,
    si_sdr,
)
from lmac.frontend import FrontEnd

SR = 16000


@pytest.fixture(scope="module")
def fe() -> FrontEnd:
    return FrontEnd()


def signals(seed: int = 0, length: int = SR) -> tuple[torch.Tensor, torch.Tensor]:
    """A zero-mean target s [2, L] and a zero-mean interferer n orthogonal to it (row by row)."""
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(2, length, generator=g, dtype=torch.float64)
    n = torch.randn(2, length, generator=g, dtype=torch.float64)
    s, n = s - s.mean(-1, keepdim=True), n - n.mean(-1, keepdim=True)
    n = n - (n * s).sum(-1, keepdim=True) / (s * s).sum(-1, keepdim=True) * s
    return s.float() * 0.1, n.float() * 0.05


def test_the_clean_target_itself_has_top_si_sdr():
    s, _ = signals()
    assert (si_sdr(s, s) >= 100).all()


def test_si_sdr_is_the_target_to_error_ratio_and_ignores_scale():
    s, n = signals(1)
    e = n * (s.norm(dim=-1, keepdim=True) / n.norm(dim=-1, keepdim=True)) / 10  # ‖e‖² = ‖s‖² / 100, e ⟂ s
    assert torch.allclose(si_sdr(s + e, s), torch.full((2,), 20.0, dtype=torch.float64), atol=1e-3)
    assert torch.allclose(si_sdr(3.0 * (s + e), s), si_sdr(s + e, s), atol=1e-6)
    assert torch.allclose(si_sdr(s + e, 0.5 * s), si_sdr(s + e, s), atol=1e-6)


def test_a_silent_explanation_has_no_si_sdr():
    s, _ = signals()
    assert torch.isnan(si_sdr(torch.zeros_like(s), s)).all()


def test_lsd_of_identical_signals_is_zero_and_of_a_20_db_gain_is_20(fe):
    s, _ = signals(2)
    assert torch.allclose(log_spectral_distance(fe, s, s), torch.zeros(2, dtype=torch.float64))
    # white noise keeps every bin well within 80 dB of the peak, so a ×10 amplitude is 20 dB everywhere
    assert torch.allclose(log_spectral_distance(fe, 10 * s, s), torch.full((2,), 20.0, dtype=torch.float64), atol=0.01)


def test_lsd_of_a_silent_explanation_is_bounded_by_the_floor(fe):
    s, _ = signals(3)
    lsd = log_spectral_distance(fe, torch.zeros_like(s), s)
    assert (lsd > 20).all() and (lsd <= FLOOR_DB + 1e-6).all()


def test_energy_kept_of_target_interferer_and_input():
    s, n = signals(4)
    for estimate, (a2, b2) in [(s, (1.0, 0.0)), (n, (0.0, 1.0)), (s + n, (1.0, 1.0)), (0.5 * (s + n), (0.25, 0.25))]:
        target_kept, interferer_kept = energy_kept(estimate, s, n)
        assert torch.allclose(target_kept, torch.full((2,), a2, dtype=torch.float64), atol=1e-6)
        assert torch.allclose(interferer_kept, torch.full((2,), b2, dtype=torch.float64), atol=1e-6)


def test_energy_kept_does_not_need_orthogonal_components():
    # correlated target and interferer (a real mixture): the fit still recovers the weights
    s, n = signals(5)
    n = n + 0.3 * s
    target_kept, interferer_kept = energy_kept(0.7 * s + 0.2 * n, s, n)
    assert torch.allclose(target_kept, torch.full((2,), 0.49, dtype=torch.float64), atol=1e-6)
    assert torch.allclose(interferer_kept, torch.full((2,), 0.04, dtype=torch.float64), atol=1e-6)


def test_without_an_interferer_nothing_is_defined(fe):
    s, _ = signals(6)
    scores = listenability(fe, s, s, torch.zeros_like(s))
    assert set(scores) == set(LISTENABILITY_METRICS)
    assert all(torch.isnan(v).all() for v in scores.values())


def test_listenability_of_the_clean_target_and_of_the_input(fe):
    s, n = signals(7)
    best = listenability(fe, s, s, n)
    assert (best["SI_SDR"] >= 100).all() and torch.allclose(best["LSD"], torch.zeros(2, dtype=torch.float64))
    assert torch.allclose(best["interferer_kept"], torch.zeros(2, dtype=torch.float64), atol=1e-9)
    assert (best["silent"] == 0).all()
    mix = listenability(fe, s + n, s, n)
    # the input itself: SI-SDR = target-to-interferer ratio (orthogonal components), all of the interferer kept
    ratio = 10 * torch.log10(s.double().pow(2).sum(-1) / n.double().pow(2).sum(-1))
    assert torch.allclose(mix["SI_SDR"], ratio, atol=1e-3)
    assert torch.allclose(mix["interferer_kept"], torch.ones(2, dtype=torch.float64), atol=1e-6)
    assert (mix["LSD"] > 0).all() and not math.isnan(float(mix["LSD"][0]))
    silent = listenability(fe, torch.zeros_like(s), s, n)
    assert (silent["silent"] == 1).all() and torch.isnan(silent["SI_SDR"]).all()
