"""Noise for training-time augmentation and in-domain evaluation, mixed as the reference does.

The reference mixes at 0 dB with unit-norm signals: ``s/‖s‖ + n/‖n‖``, then divides by the
per-utterance signed maximum (``combine_batches`` in ``wham_prepare.py``). ``mix`` generalises
the level (``snr_db``) and offers peak normalisation by the absolute maximum (default) or the
signed maximum (reference).

Two noise sources share one protocol, ``sample(length, generator) -> Tensor[length]`` for a
single clip drawn with the caller's generator (evaluation seeds one generator per item, so every
method sees the same noisy input) and ``draw(batch, length) -> Tensor[batch, length]`` from the
source's own seeded stream:

* ``GeneratedNoise``, the offline source of the embedded default: coloured noise (white, pink,
  brown) with a random slow amplitude envelope;
* ``lmac.data.audio_folder.AudioFolder`` over WHAM!'s ``tr/`` (``noise.source: wham``), which
  keeps the first ``length`` samples of a random file, as the reference's ``WHAMDataset``.

``noise_source`` builds the one the top-level ``noise`` config section names.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..errors import LmacError

EPS = 1e-8
PEAKS = ("abs", "signed", "none")
SOURCES = ("generated", "wham")


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
    raise LmacError(f"noise.peak: unknown peak normalisation '{peak}' ({', '.join(PEAKS)})")


def coloured_noise(n: int, length: int, exponent: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Noise whose power falls as 1/f**exponent (0 white, 1 pink, 2 brown), [n, length]."""
    spec = torch.fft.rfft(torch.randn(n, length, generator=generator), dim=-1)
    freqs = torch.arange(spec.shape[-1], dtype=torch.float32).clamp(min=1.0)
    spec = spec / freqs[None, :] ** (exponent[:, None] / 2)
    return torch.fft.irfft(spec, n=length, dim=-1)


def generated_noise(batch: int, length: int, generator: torch.Generator) -> torch.Tensor:
    """[batch, length] coloured noise under a slow random envelope, all drawn from ``generator``."""
    exponent = torch.randint(0, 3, (batch,), generator=generator).float()
    noise = coloured_noise(batch, length, exponent, generator)
    # a slow random envelope so the noise is not perfectly stationary
    knots = torch.rand(batch, 1, 6, generator=generator) * 0.8 + 0.2
    env = torch.nn.functional.interpolate(knots, size=length, mode="linear", align_corners=True)[:, 0]
    return noise * env


class GeneratedNoise:
    """A seeded, endless source of background noise (the offline stand-in for WHAM!)."""

    def __init__(self, seed: int, sample_rate: int):
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)
        self.sample_rate = sample_rate

    def __repr__(self) -> str:
        return f"GeneratedNoise(seed={self.seed}, sample_rate={self.sample_rate})"

    def sample(self, length: int, generator: torch.Generator) -> torch.Tensor:
        """One clip of ``length`` samples, [length], depending only on ``generator``'s state."""
        return generated_noise(1, length, generator)[0]

    def draw(self, batch: int, length: int) -> torch.Tensor:
        """``batch`` clips from the source's own seeded stream, [batch, length]."""
        return generated_noise(batch, length, self.generator)


def mixed(source, clean: torch.Tensor, generator: torch.Generator, snr_db: float, peak: str) -> torch.Tensor:
    """``clean`` [B, L] with one clip of ``source``'s noise per row, drawn from ``generator``, mixed in."""
    noise = torch.stack([source.sample(clean.shape[1], generator) for _ in range(clean.shape[0])])
    return mix(clean, noise.to(clean), snr_db, peak)


def noise_source(cfg_noise: dict, wham_dir: str | os.PathLike | None, sample_rate: int, seed: int):
    """The noise source the top-level ``noise`` section names: GeneratedNoise or WHAM!'s ``tr/``.

    ``wham_dir`` is the extracted WHAM! folder (``resources/wham``, holding ``tr/``, ``cv/``,
    ``tt/``); only ``tr/`` is used, and each file contributes its first ``length`` samples
    (offset ``first``), as the reference.
    """
    source = (cfg_noise or {}).get("source", "generated")
    if source == "generated":
        return GeneratedNoise(seed, sample_rate)
    if source == "wham":
        from .audio_folder import AudioFolder  # torchaudio resampling; only needed for WHAM!

        if wham_dir is None:
            raise LmacError("noise.source: 'wham' needs the extracted WHAM! folder (resources/wham)")
        root = Path(wham_dir)
        tr = root / "tr"
        if not tr.is_dir():
            raise LmacError(f"{root}: no tr/ folder (not an extracted wham_noise.zip?)")
        return AudioFolder(tr, sample_rate, offset="first", seed=seed)
    raise LmacError(f"noise.source: unknown value '{source}' ({' or '.join(SOURCES)})")


def describe(source) -> str:
    """A stable description of a noise source for a resume fingerprint (never an address)."""
    own_repr = type(source).__repr__ is not object.__repr__
    return repr(source) if own_repr else type(source).__name__
