"""The front end is pinned numerically against SpeechBrain, the reference implementation."""

import pytest
import torch

from lmac.frontend import FrontEnd, FrontEndConfig

sb_features = pytest.importorskip("speechbrain.processing.features")


@pytest.fixture(scope="module")
def wav():
    return torch.randn(2, 16000 * 5, generator=torch.Generator().manual_seed(0)) * 0.1


def test_hop_and_window_rounded_like_speechbrain():
    cfg = FrontEndConfig()
    assert (cfg.hop_length, cfg.win_length, cfg.n_freqs) == (186, 372, 513)
    assert cfg.n_frames(80000) == 431


def test_stft_magnitude_matches_speechbrain(wav):
    sb = sb_features.STFT(sample_rate=16000, n_fft=1024, hop_length=11.6099, win_length=23.2199)
    ref = sb_features.spectral_magnitude(sb(wav), power=0.5)
    fe = FrontEnd()
    ours = fe.magnitude(fe.stft(wav))
    assert ours.shape == ref.shape == (2, 431, 513)
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-6)


def test_log_mel_features_match_speechbrain(wav):
    sb = sb_features.STFT(sample_rate=16000, n_fft=1024, hop_length=11.6099, win_length=23.2199)
    fb = sb_features.Filterbank(n_mels=80, n_fft=1024, sample_rate=16000, log_mel=False)
    ref = torch.log1p(fb(sb_features.spectral_magnitude(sb(wav), power=0.5)))
    ours = FrontEnd().features(wav)
    assert ours.shape == (2, 431, 80)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)


def test_features_from_logspec_is_the_same_path(wav):
    fe = FrontEnd()
    torch.testing.assert_close(
        fe.features_from_logspec(fe.log_spectrogram(wav)), fe.features(wav), rtol=1e-5, atol=1e-5
    )


def test_inverse_reconstructs_the_waveform(wav):
    fe = FrontEnd()
    spec = fe.stft(wav)
    rebuilt = fe.istft(fe.magnitude(spec), torch.angle(spec), wav.shape[-1])
    assert rebuilt.shape == wav.shape
    torch.testing.assert_close(rebuilt, wav, rtol=0, atol=1e-5)


def test_resynthesise_all_ones_mask_is_identity(wav):
    fe = FrontEnd()
    out = fe.resynthesise(fe.log_spectrogram(wav), wav)
    torch.testing.assert_close(out, wav, rtol=0, atol=1e-4)


def test_window_longer_than_fft_is_rejected():
    with pytest.raises(ValueError, match="longer than n_fft"):
        FrontEnd(FrontEndConfig(n_fft=256))


def test_resynthesise_fills_uncovered_frames_with_silence(wav):
    fe = FrontEnd()
    logspec = fe.log_spectrogram(wav)[:, :425]  # the reference's 425 of 431 frames
    out = fe.resynthesise(logspec, wav)
    assert out.shape == wav.shape
    hop = fe.cfg.hop_length
    # well inside the covered part the signal is reconstructed, the uncovered tail is near silent
    torch.testing.assert_close(out[:, : 400 * hop], wav[:, : 400 * hop], rtol=0, atol=1e-4)
    assert out[:, 429 * hop :].abs().max() < 0.1 * wav.abs().max()
