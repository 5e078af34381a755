"""The classifier's front end and its inverse, as in the reference recipe.

STFT (Hamming, centred, constant padding) → magnitude |X| → 80 triangular mel filters → log1p.
Hop and window are given in milliseconds and rounded to samples the way SpeechBrain's ``STFT``
does, so 11.6099 / 23.2199 ms become 186 / 372 samples at 16 kHz. The mel filters are
SpeechBrain's (``Filterbank``): symmetric triangles in Hz whose half-width is the spacing of the
mel points, which differs from torchaudio's asymmetric ``melscale_fbanks``; a test pins both the
STFT and the filterbank against SpeechBrain.

L-MAC masks the log1p-magnitude spectrogram ``log1p|X|`` ([B, T, n_fft/2+1]); the classifier
reads ``log1p(Mel(|X|))`` ([B, T, n_mels]). ``features_from_logspec`` maps a (masked) log1p
spectrogram back to classifier features, and ``istft`` turns a magnitude plus the input phase
into a waveform.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

# SpeechBrain's spectral_magnitude adds this before the square root so silent bins stay finite.
MAGNITUDE_EPS = 1e-14


@dataclass(frozen=True)
class FrontEndConfig:
    sample_rate: int = 16000
    n_fft: int = 1024
    hop_ms: float = 11.6099
    win_ms: float = 23.2199
    n_mels: int = 80
    f_min: float = 0.0
    f_max: float | None = None  # None: Nyquist

    @classmethod
    def from_dict(cls, cfg: dict | None) -> FrontEndConfig:
        return cls(**(cfg or {}))

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def hop_length(self) -> int:
        return int(round(self.sample_rate / 1000.0 * self.hop_ms))

    @property
    def win_length(self) -> int:
        return int(round(self.sample_rate / 1000.0 * self.win_ms))

    @property
    def n_freqs(self) -> int:
        return self.n_fft // 2 + 1

    def n_frames(self, n_samples: int) -> int:
        return n_samples // self.hop_length + 1


def mel_filterbank(cfg: FrontEndConfig) -> torch.Tensor:
    """SpeechBrain's triangular mel filterbank, [n_freqs, n_mels]."""
    f_max = cfg.f_max if cfg.f_max is not None else cfg.sample_rate / 2

    def to_mel(hz: float) -> float:
        return 2595 * math.log10(1 + hz / 700)

    mel = torch.linspace(to_mel(cfg.f_min), to_mel(f_max), cfg.n_mels + 2)
    hz = 700 * (10 ** (mel / 2595) - 1)
    band = (hz[1:] - hz[:-1])[:-1]
    f_central = hz[1:-1]
    all_freqs = torch.linspace(0, cfg.sample_rate // 2, cfg.n_freqs)
    slope = (all_freqs[None, :] - f_central[:, None]) / band[:, None]
    fbank = torch.clamp(torch.minimum(slope + 1.0, 1.0 - slope), min=0.0)
    return fbank.transpose(0, 1).contiguous()


class FrontEnd(torch.nn.Module):
    """Waveform ↔ spectrogram ↔ classifier features. Shapes are [batch, frames, bins]."""

    def __init__(self, cfg: FrontEndConfig | None = None):
        super().__init__()
        self.cfg = cfg or FrontEndConfig()
        if self.cfg.win_length > self.cfg.n_fft:
            raise ValueError(f"window ({self.cfg.win_length} samples) is longer than n_fft ({self.cfg.n_fft})")
        self.register_buffer("window", torch.hamming_window(self.cfg.win_length), persistent=False)
        self.register_buffer("fbank", mel_filterbank(self.cfg), persistent=False)

    def stft(self, wav: torch.Tensor) -> torch.Tensor:
        """Complex STFT, [B, T, F]."""
        spec = torch.stft(
            wav,
            self.cfg.n_fft,
            self.cfg.hop_length,
            self.cfg.win_length,
            self.window,
            center=True,
            pad_mode="constant",
            normalized=False,
            onesided=True,
            return_complex=True,
        )
        return spec.transpose(1, 2)

    @staticmethod
    def magnitude(spec: torch.Tensor) -> torch.Tensor:
        return (spec.real.pow(2) + spec.imag.pow(2) + MAGNITUDE_EPS).sqrt()

    def log_spectrogram(self, wav: torch.Tensor) -> torch.Tensor:
        """log1p|STFT|, the domain L-MAC masks, [B, T, F]."""
        return torch.log1p(self.magnitude(self.stft(wav)))

    def features_from_magnitude(self, mag: torch.Tensor) -> torch.Tensor:
        """log1p(Mel(|X|)), the classifier input, [B, T, n_mels]."""
        return torch.log1p(mag @ self.fbank)

    def features_from_logspec(self, logspec: torch.Tensor) -> torch.Tensor:
        """Classifier input for a (masked) log1p spectrogram: log1p(Mel(expm1(Z)))."""
        return self.features_from_magnitude(torch.expm1(logspec))

    def features(self, wav: torch.Tensor) -> torch.Tensor:
        return self.features_from_magnitude(self.magnitude(self.stft(wav)))

    def istft(self, magnitude: torch.Tensor, phase: torch.Tensor, length: int) -> torch.Tensor:
        """Waveform of ``length`` samples from a magnitude and a phase, both [B, T, F]."""
        spec = torch.polar(magnitude, phase).transpose(1, 2)
        return torch.istft(
            spec,
            self.cfg.n_fft,
            self.cfg.hop_length,
            self.cfg.win_length,
            self.window,
            center=True,
            normalized=False,
            onesided=True,
            length=length,
        )

    def resynthesise(self, logspec: torch.Tensor, wav: torch.Tensor) -> torch.Tensor:
        """Listenable audio for a (masked) log1p spectrogram, with the phase of ``wav``."""
        phase = torch.angle(self.stft(wav))
        magnitude = torch.expm1(logspec)
        missing = phase.shape[1] - magnitude.shape[1]
        if missing > 0:  # frames a mask did not cover (the reference's dropped frames) are silent
            magnitude = torch.nn.functional.pad(magnitude, (0, 0, 0, missing))
        return self.istft(magnitude, phase[:, : magnitude.shape[1]], wav.shape[-1])
