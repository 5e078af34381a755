import numpy as np
import pytest
import torch

from lmac.data.speech import F0_RANGE, SyntheticSpeech
from lmac.errors import LmacError

SR = 16000
FRAME = int(0.04 * SR)


def _frames(wav: np.ndarray) -> np.ndarray:
    return wav[: wav.size // FRAME * FRAME].reshape(-1, FRAME)


def _periodicity(frame: np.ndarray) -> tuple[float, float]:
    """(f0 estimate in Hz, normalised autocorrelation at that lag) over 60-320 Hz."""
    f = frame - frame.mean()
    ac = np.correlate(f, f, "full")[FRAME - 1 :]
    if ac[0] <= 0:
        return 0.0, 0.0
    ac = ac / ac[0]
    lo, hi = SR // 320, SR // 60
    lag = lo + int(np.argmax(ac[lo:hi]))
    return SR / lag, float(ac[lag])


def _centroid(frame: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(frame * np.hanning(frame.size)))
    return float((spec * np.fft.rfftfreq(frame.size, 1 / SR)).sum() / spec.sum())


def _syllabic_share(wav: np.ndarray) -> float:
    """Share of the 10 ms RMS envelope's modulation power (above 0.3 Hz) that lies in 2-10 Hz."""
    hop = int(0.01 * SR)
    env = np.sqrt((wav[: wav.size // hop * hop].reshape(-1, hop) ** 2).mean(1))
    power = np.abs(np.fft.rfft(env - env.mean())) ** 2
    freqs = np.fft.rfftfreq(env.size, 0.01)
    return float(power[(freqs >= 2) & (freqs <= 10)].sum() / power[freqs > 0.3].sum())


def test_syllabic_share_separates_noise():
    noise = np.random.default_rng(0).standard_normal(3 * SR)
    assert _syllabic_share(noise) < 0.3


@pytest.fixture(scope="module")
def clips() -> np.ndarray:
    return SyntheticSpeech(SR, seed=1).draw(3, 3 * SR).numpy()


def test_shape_level_and_determinism(clips):
    assert clips.shape == (3, 3 * SR) and clips.dtype == np.float32 and np.isfinite(clips).all()
    np.testing.assert_allclose(np.abs(clips).max(1), 0.9, rtol=1e-6)
    src = SyntheticSpeech(SR, seed=1)
    a = src.sample(4000, torch.Generator().manual_seed(7))
    b = SyntheticSpeech(SR, seed=99).sample(4000, torch.Generator().manual_seed(7))
    assert torch.equal(a, b)  # the clip depends on the generator only
    assert not torch.equal(a, src.sample(4000, torch.Generator().manual_seed(8)))
    assert src.sample(10, torch.Generator().manual_seed(1)).shape == (10,)
    with pytest.raises(LmacError, match="sample_rate"):
        SyntheticSpeech(4000)


def test_voiced_frames_are_harmonic_with_f0_in_speech_range(clips):
    for wav in clips:
        fr = _frames(wav)
        energy = 10 * np.log10((fr**2).mean(1) + 1e-20)
        loud = fr[energy > energy.max() - 15]
        stats = np.array([_periodicity(f) for f in loud])
        voiced = stats[stats[:, 1] > 0.5]
        assert len(voiced) > 0.6 * len(loud)  # most loud frames are voiced (periodic)
        assert F0_RANGE[0] - 5 <= np.median(voiced[:, 0]) <= F0_RANGE[1] + 5


def test_not_stationary_pauses_syllables_formants_fricatives(clips):
    for wav in clips:
        fr = _frames(wav)
        energy = 10 * np.log10((fr**2).mean(1) + 1e-20)
        energy -= energy.max()
        quiet = (energy < -30).mean()
        assert 0.03 < quiet < 0.6  # pauses and syllable gaps, but mostly sound
        # the amplitude envelope is modulated at syllable rate: its modulation spectrum puts much
        # more than a flat share (~16 %, what white noise gives) of its power in 2-10 Hz
        assert _syllabic_share(wav) > 0.35
        stats = [(_periodicity(f)[1], _centroid(f)) for f in fr[energy > -25]]
        voiced_centroids = [c for p, c in stats if p > 0.5]
        assert np.std(voiced_centroids) > 100  # formants move between vowels
        # unvoiced, high-frequency frication somewhere in the clip
        assert any(p < 0.3 and c > 2500 for p, c in stats)


def test_unlike_a_steady_harmonic_stack(clips):
    """The synthetic dataset's harmonic_stack has a flat f0; speech glides."""
    f0s = []
    for f in _frames(clips[0]):
        f0, peak = _periodicity(f)
        if peak > 0.7:
            f0s.append(f0)
    assert np.ptp(f0s) > 10
