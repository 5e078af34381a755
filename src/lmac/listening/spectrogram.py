"""Small spectrogram pictures for the listening pages: log1p|STFT| as a PNG, no axes, one colour scale per clip."""

from __future__ import annotations

import io

import numpy as np
from scipy.signal import stft

from ..reporting.plotting import plt
from .audio import SAMPLE_RATE

N_FFT, HOP = 256, 128  # 16 ms windows: 129 bins up to 8 kHz, 125 frames a second


def log_spectrogram(wav: np.ndarray) -> np.ndarray:
    """log1p|STFT| [bins, frames] of a 16 kHz waveform, low frequencies first."""
    _, _, spec = stft(np.asarray(wav, dtype=np.float32), SAMPLE_RATE, nperseg=N_FFT, noverlap=N_FFT - HOP)
    return np.log1p(np.abs(spec) * N_FFT / 4)


def colour_top(reference: np.ndarray) -> float:
    """The top of a clip's colour scale: its input's 99.5th percentile (a few loud bins would blacken the rest)."""
    return max(float(np.percentile(log_spectrogram(reference), 99.5)), 1e-6)


def spectrogram_png(wav: np.ndarray, top: float) -> bytes:
    """The PNG of ``wav``'s spectrogram on the scale [0, ``top``]: what a mask removes reads as darker."""
    buffer = io.BytesIO()
    plt.imsave(buffer, log_spectrogram(wav), cmap="magma", vmin=0.0, vmax=top, origin="lower", format="png")
    return buffer.getvalue()
