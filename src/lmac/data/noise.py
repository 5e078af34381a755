"""Noise for training-time augmentation and in-domain evaluation, mixed as the reference does.

The reference mixes at 0 dB with unit-norm signals: ``s/‖s‖ + n/‖n‖``, then divides by the
per-utterance signed maximum (``combine_batches`` in ``wham_prepare.py``). ``mix`` generalises
the level (``snr_db``) and offers peak normalisation by the absolute maximum (default) or the
signed maximum (reference). ``GeneratedNoise`` is the offline noise source of the embedded
default: coloured noise (white, pink, brown) with a random slow amplitude envelope, drawn from a
seeded generator so runs are repeatable.
"""

from __future__ import annotations

import torch

EPS = 1e-8


def mix(clean: torch.Tensor, noise: torch.Tensor, snr_db: float = 0.0, peak: str = "abs") -> torch.Tensor:
    """Mix [B, L] clean and noise at ``snr_db`` (unit-norm convention) and peak-normalise."""
    s = clean / (clean.norm(dim=-1, keepdim=True) + EPS)
    n = noise / (noise.norm(dim=-1, keepdim=True) + EPS)
    out = s + 10 ** (-snr_db / 20) * n
    if peak == "signed":
        return out / (out.max(dim=-1, keepdim=True).values + EPS)
    if peak == "abs":
        return out / (out.abs().max(dim=-1, keepdim=True).values + EPS)
    if peak == "none":
        return out
    raise ValueError(f"unknown peak normalisation '{peak}'")


def coloured_noise(n: int, length: int, exponent: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Noise whose power falls as 1/f**exponent (0 white, 1 pink, 2 brown), [n, length]."""
    spec = torch.fft.rfft(torch.randn(n, length, generator=generator), dim=-1)
    freqs = torch.arange(spec.shape[-1], dtype=torch.float32).clamp(min=1.0)
    spec = spec / freqs[None, :] ** (exponent[:, None] / 2)
    return torch.fft.irfft(spec, n=length, dim=-1)


class GeneratedNoise:
    """A seeded, endless source of background noise batches."""

    def __init__(self, seed: int, sample_rate: int):
        self.generator = torch.Generator().manual_seed(seed)
        self.sample_rate = sample_rate

    def draw(self, batch: int, length: int) -> torch.Tensor:
        g = self.generator
        exponent = torch.randint(0, 3, (batch,), generator=g).float()
        noise = coloured_noise(batch, length, exponent, g)
        # a slow random envelope so the noise is not perfectly stationary
        knots = torch.rand(batch, 1, 6, generator=g) * 0.8 + 0.2
        env = torch.nn.functional.interpolate(knots, size=length, mode="linear", align_corners=True)[:, 0]
        return noise * env
