"""Listenability cases that the mutation run (docs/mutation.md) showed the hand-computed tests did not pin."""

from __future__ import annotations

import torch

from lmac.evaluation.listenability import FLOOR_DB, energy_kept, listenability, log_spectral_distance, si_sdr
from lmac.frontend import FrontEnd

SR = 16000


def white(seed: int, length: int = SR, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(2, length, generator=torch.Generator().manual_seed(seed)) * scale


def test_si_sdr_ignores_a_dc_offset_of_the_estimate():
    s = white(0)
    s = s - s.mean(-1, keepdim=True)
    # zero-mean SI-SDR: an offset is no distortion, so the estimate is still the target itself
    assert (si_sdr(s + 0.5, s) >= 100).all()


def test_a_copy_140_db_down_is_silent_whatever_the_target_level():
    for scale in (1e-3, 1.0, 100.0):  # target energies ~1.6e-2, ~1.6e4, ~1.6e8
        s = white(1, scale=scale)
        quiet = s * 1e-7
        assert torch.isnan(si_sdr(quiet, s)).all()
        assert (listenability(FrontEnd(), quiet, s, white(2, scale=scale))["silent"] == 1).all()
        # 60 dB down is quiet but not silent
        assert not torch.isnan(si_sdr(s * 1e-3, s)).any()


def test_energy_exactly_at_the_silence_threshold_counts_as_silent():
    # "at or below 1e-12 of the target's energy": the target's energy is 1e12, the estimate's 1.0
    target = torch.zeros(1, 64, dtype=torch.float64)
    target[0, 3] = 1e6
    estimate = torch.zeros(1, 64, dtype=torch.float64)
    estimate[0, 5] = 1.0
    interferer = torch.zeros(1, 64, dtype=torch.float64)
    interferer[0, 7] = 1.0
    assert torch.isnan(si_sdr(estimate, target)).all()
    assert listenability(FrontEnd(), estimate, target, interferer)["silent"].item() == 1.0


def test_lsd_of_a_silent_explanation_follows_the_definition():
    # every bin of white noise lies well within 80 dB of its peak, so the silent explanation sits on
    # the floor: per bin 10·log10(floor / P) with floor = peak · 10^(-80/10); RMS over bins, mean over frames
    fe = FrontEnd()
    # 20 dB quieter in the second half, so per-frame and per-bin averages differ
    s = white(3) * torch.where(torch.arange(SR) < SR // 2, 1.0, 0.1)
    power = fe.magnitude(fe.stft(s)).pow(2).double()
    peak = power.flatten(1).amax(1)[:, None, None]
    assert (power > peak * 10 ** (-FLOOR_DB / 10)).all()
    per_bin = 10 * torch.log10(peak * 10 ** (-FLOOR_DB / 10) / power)
    expected = per_bin.pow(2).mean(-1).sqrt().mean(-1)
    lsd = log_spectral_distance(fe, torch.zeros_like(s), s)
    torch.testing.assert_close(lsd, expected, rtol=1e-4, atol=0)


def test_unit_energy_signals_are_not_mistaken_for_silent_ones():
    # an energy of exactly 1 is a valid target or interferer
    s = torch.zeros(1, 256, dtype=torch.float64)
    s[0, 10] = 1.0
    n = torch.zeros(1, 256, dtype=torch.float64)
    n[0, 20] = 1.0
    target_kept, interferer_kept = energy_kept(0.5 * s + 0.25 * n, s, n)
    assert (target_kept.item(), interferer_kept.item()) == (0.25, 0.0625)
    scores = listenability(FrontEnd(), s + n, s, n)
    assert scores["target_kept"].item() == 1.0 and not torch.isnan(scores["SI_SDR"]).any()


def test_nearly_collinear_components_are_undefined_at_any_level():
    # sin² of the angle between s and n is ~1e-14: no fit separates them, at loud and quiet levels alike
    base = white(4, length=4000).double()
    other = white(5, length=4000).double()
    for scale in (1e-3, 1.0, 1e3):
        s = scale * base
        n = 2 * s + 1e-7 * scale * other
        target_kept, interferer_kept = energy_kept(s, s, n)
        assert torch.isnan(target_kept).all() and torch.isnan(interferer_kept).all()
