"""Front-end cases that the mutation run (docs/mutation.md) showed the other tests did not pin."""

from __future__ import annotations

import pytest
import torch

from lmac.frontend import FrontEnd, FrontEndConfig, mel_filterbank

sb_features = pytest.importorskip("speechbrain.processing.features")


def test_config_from_and_to_a_dict():
    assert FrontEndConfig.from_dict(None) == FrontEndConfig.from_dict({}) == FrontEndConfig()
    cfg = FrontEndConfig.from_dict({"n_mels": 64, "f_max": 4000.0})
    assert (cfg.n_mels, cfg.f_max) == (64, 4000.0)
    assert FrontEndConfig.from_dict(cfg.to_dict()) == cfg and cfg.to_dict()["sample_rate"] == 16000


def test_f_max_bounds_the_mel_filters():
    cfg = FrontEndConfig(f_max=4000.0)
    fbank = mel_filterbank(cfg)
    hz = torch.linspace(0, cfg.sample_rate / 2, cfg.n_freqs)
    assert fbank[hz > 4000.0].abs().max() == 0 and fbank[hz < 4000.0].sum() > 0


def test_filterbank_matches_speechbrain_at_an_odd_sample_rate():
    # 11025 Hz: SpeechBrain spaces the bins up to sample_rate // 2 (integer division), as lmac does
    cfg = FrontEndConfig(sample_rate=11025, n_fft=512, n_mels=40)
    fb = sb_features.Filterbank(n_mels=40, n_fft=512, sample_rate=11025, f_max=11025 / 2, log_mel=False)
    ours = FrontEnd(cfg).features_from_magnitude(torch.eye(cfg.n_freqs)[None])
    torch.testing.assert_close(ours, torch.log1p(fb(torch.eye(cfg.n_freqs)[None])), rtol=1e-5, atol=1e-6)


def test_a_window_as_long_as_the_fft_is_allowed():
    fe = FrontEnd(FrontEndConfig(n_fft=512, win_ms=32.0))
    assert fe.cfg.win_length == fe.cfg.n_fft == 512


def test_window_and_filterbank_are_not_saved_with_a_model():
    # they follow from the config; a checkpoint holding them would pin one front end's buffers
    assert list(FrontEnd().state_dict()) == []


def test_resynthesise_handles_masks_longer_than_the_number_of_bins():
    # 2 s at a hop of 8 ms is 251 frames, more than the 129 bins of a 256-point FFT
    fe = FrontEnd(FrontEndConfig(n_fft=256, hop_ms=8.0, win_ms=16.0))
    wav = torch.randn(1, 32000, generator=torch.Generator().manual_seed(0)) * 0.1
    logspec = fe.log_spectrogram(wav)
    assert logspec.shape[1] > logspec.shape[2]
    torch.testing.assert_close(fe.resynthesise(logspec, wav), wav, rtol=0, atol=1e-4)


def test_one_uncovered_frame_is_silent():
    fe = FrontEnd()
    wav = torch.randn(1, 16000, generator=torch.Generator().manual_seed(1)) * 0.1
    logspec = fe.log_spectrogram(wav)
    silent_last = logspec.clone()
    silent_last[:, -1] = 0.0
    torch.testing.assert_close(fe.resynthesise(logspec[:, :-1], wav), fe.resynthesise(silent_last, wav))
