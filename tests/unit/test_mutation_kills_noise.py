"""Noise cases that the mutation run (docs/mutation.md) showed the other tests did not pin."""

from __future__ import annotations

import re

import numpy as np
import pytest
import soundfile as sf
import torch

from lmac.data.noise import GeneratedNoise, coloured_noise, describe, generated_noise, mix, noise_source
from lmac.errors import LmacError


def rows(seed: int, b: int = 2, length: int = 4000) -> torch.Tensor:
    return torch.randn(b, length, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_the_default_level_is_zero_db():
    clean, noise = rows(0), rows(1)
    torch.testing.assert_close(mix(clean, noise), mix(clean, noise, 0.0), rtol=0, atol=0)


def test_unit_norm_scaling_never_amplifies():
    # the EPS guard sits in the denominator's sum: a component's norm is at most 1 (and its gain)
    clean, noise = rows(2), rows(3)
    assert (mix(clean, torch.zeros_like(noise), peak="none").norm(dim=-1) < 1).all()
    assert (mix(torch.zeros_like(clean), noise, snr_db=6.0, peak="none").norm(dim=-1) < 10 ** (-6 / 20)).all()


def test_peak_normalisation_keeps_each_row_within_one():
    clean, noise = rows(4), rows(5)
    clean[1] *= 50  # rows of different levels are normalised each by its own peak
    for peak, top in (("abs", lambda x: x.abs().amax(-1)), ("signed", lambda x: x.amax(-1))):
        out = mix(clean, noise, peak=peak)
        assert ((top(out) < 1) & (top(out) > 1 - 1e-6)).all()


def test_rows_are_mixed_independently():
    clean, noise = rows(6, b=3), rows(7, b=3)
    clean[1, 100] = 400.0  # a spike: its row's peak is far above the others'
    for peak in ("abs", "signed"):
        one_by_one = torch.cat([mix(clean[i : i + 1], noise[i : i + 1], peak=peak) for i in range(3)])
        torch.testing.assert_close(mix(clean, noise, peak=peak), one_by_one, rtol=1e-12, atol=0)


def test_unknown_peak_lists_the_choices():
    with pytest.raises(LmacError, match=re.escape("noise.peak: unknown peak normalisation 'max' (abs, signed, none)")):
        mix(rows(0), rows(1), peak="max")


def test_coloured_noise_has_the_power_law_it_names():
    g = torch.Generator().manual_seed(0)
    length = 2**14
    noise = coloured_noise(3, length, torch.tensor([0.0, 1.0, 2.0]), g)
    power = torch.fft.rfft(noise, dim=-1).abs().pow(2)
    f = torch.arange(power.shape[-1], dtype=torch.float64)
    band = (f >= 16) & (f <= 4096)
    x = torch.log(f[band])
    for row, exponent in enumerate((0.0, 1.0, 2.0)):
        y = torch.log(power[row, band].double())
        slope = ((x - x.mean()) * (y - y.mean())).sum() / (x - x.mean()).pow(2).sum()
        assert slope.item() == pytest.approx(-exponent, abs=0.05)


def test_coloured_noise_has_the_requested_shape_and_independent_rows():
    noise = coloured_noise(2, 1001, torch.zeros(2), torch.Generator().manual_seed(1))
    assert noise.shape == (2, 1001)
    assert not torch.allclose(noise[0], noise[1])


def test_generated_noise_stream_is_pinned():
    # the embedded default's training noise: a change of the stream changes every result built on it
    noise = generated_noise(3, 1001, torch.Generator().manual_seed(0))
    torch.testing.assert_close(
        noise.abs().sum(-1), torch.tensor([30.487585067749023, 529.595458984375, 16.771913528442383]), rtol=1e-4, atol=0
    )
    torch.testing.assert_close(noise[:, 0], torch.tensor([0.033052586, 0.580643773, -0.027741315]), rtol=1e-4, atol=0)
    torch.testing.assert_close(noise[:, 500], torch.tensor([0.019675316, 0.684321165, 0.006354956]), rtol=1e-4, atol=0)
    one = GeneratedNoise(0, 16000).sample(1001, torch.Generator().manual_seed(0))
    torch.testing.assert_close(one, generated_noise(1, 1001, torch.Generator().manual_seed(0))[0], rtol=0, atol=0)
    assert not torch.allclose(one, generated_noise(2, 1001, torch.Generator().manual_seed(0))[0])


def test_sources_describe_themselves_without_an_address():
    source = GeneratedNoise(3, 16000)
    assert repr(source) == describe(source) == "GeneratedNoise(seed=3, sample_rate=16000)"
    assert describe(object()) == "object"


def test_noise_source_defaults_to_generated_noise():
    for cfg in (None, {}, {"snr_db": 0.0}):
        assert repr(noise_source(cfg, None, 16000, 4)) == "GeneratedNoise(seed=4, sample_rate=16000)"


def test_noise_source_errors_name_the_value_and_the_choices():
    with pytest.raises(LmacError, match=r"^noise\.source: 'wham' needs the extracted WHAM! folder \(resources/wham\)$"):
        noise_source({"source": "wham"}, None, 16000, 0)
    with pytest.raises(LmacError, match=r"^noise\.source: unknown value 'pink' \(generated or wham\)$"):
        noise_source({"source": "pink"}, None, 16000, 0)


def test_wham_noise_is_drawn_with_the_runs_seed(tmp_path):
    (tmp_path / "tr").mkdir()
    sf.write(tmp_path / "tr" / "a.wav", np.zeros(1600, np.float32), 16000)
    assert noise_source({"source": "wham"}, tmp_path, 16000, 11).seed == 11
