"""Guided fine-tuning of L-MAC ("L-MAC FT", docs/reproducibility_notes.md#l-mac-ft; ``train_lmac.py`` with ``finetuning``).

The decoder is trained on noisy inputs; where its masked-in spectrogram X_in = M ⊙ X_noisy already
resembles the clean clip's X_clean, the mask is additionally pulled towards an "oracle" made of
the clean clip's loud bins. Per sample b:

1. ρ_b = mean(X_in·X_clean) / (rms(X_in)·rms(X_clean)) over (T, F) (``crosscortype: dotp``, a
   cosine similarity of the two log1p spectrograms);
2. the sample is *guided* when ρ_b ≥ ``crosscor_th`` (0.6);
3. oracle O_b = 1[X_clean ≥ ``bin_th`` · max X_clean] (0.35 of the utterance's maximum);
4. guidance loss = mean_b( BCE(M_b, O_b) averaged over (T, F) · ``g_w`` · 1[guided_b] );
5. guided samples are exempt from the L1/TV regularisers (``lmac_loss``'s ``regularise``).

Why only confident samples are guided: where the explanation does not yet look like the clean
sound, the oracle of the clean clip would fight the classifier terms; where it does, the oracle
sharpens the mask onto the sound's own bins and away from the noise. The fraction of guided
samples is the reference's logged ``in_masks``.

Only the reference's defaults are implemented (``dotp`` correlation, ``binary`` guidance); its
alternatives (``conv`` NCC, MSE guidance) are not used by any published configuration.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from ..errors import LmacError

EPS = 1e-10  # the reference's eps; guards an all-zero (silent) spectrogram
CROSSCOR_TYPES = ("dotp",)


@dataclass(frozen=True)
class GuidanceConfig:
    g_w: float = 4.0  # guidance weight (the recipe and README FT command: 4)
    crosscor_th: float = 0.6  # guided when the correlation reaches this
    bin_th: float = 0.35  # oracle threshold, fraction of the clean utterance's maximum
    crosscor: str = "dotp"

    def __post_init__(self):
        if self.crosscor not in CROSSCOR_TYPES:
            raise LmacError(f"lmac_ft.crosscor: unknown value '{self.crosscor}' ({', '.join(CROSSCOR_TYPES)})")
        if self.g_w < 0:
            raise LmacError(f"lmac_ft.g_w: {self.g_w} must be >= 0")
        if not 0 <= self.bin_th <= 1:
            raise LmacError(f"lmac_ft.bin_th: {self.bin_th} must be in [0, 1]")

    @classmethod
    def from_config(cls, cfg: dict) -> GuidanceConfig:
        defaults = cls()
        return cls(
            g_w=float(cfg.get("g_w", defaults.g_w)),
            crosscor_th=float(cfg.get("crosscor_th", defaults.crosscor_th)),
            bin_th=float(cfg.get("bin_th", defaults.bin_th)),
            crosscor=cfg.get("crosscor", defaults.crosscor),
        )

    def as_dict(self) -> dict:
        return asdict(self)


def crosscorrelation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-sample normalised dot product of two [B, T, F] spectrograms, [B] (1 for identical ones)."""
    if a.shape != b.shape:
        raise LmacError(f"cross-correlation needs equal shapes, got {list(a.shape)} and {list(b.shape)}")
    dotp = (a * b).mean((-1, -2))
    rms_a = a.pow(2).mean((-1, -2)).sqrt()
    rms_b = b.pow(2).mean((-1, -2)).sqrt()
    return dotp / (rms_a * rms_b + EPS)


def oracle_mask(x_clean: torch.Tensor, bin_th: float) -> torch.Tensor:
    """1 where the clean [B, T, F] spectrogram reaches ``bin_th`` × its utterance's maximum."""
    peak = x_clean.flatten(1).amax(1).view(-1, 1, 1)
    return (x_clean >= bin_th * peak).to(x_clean.dtype)


def guidance_loss(mask: torch.Tensor, oracle: torch.Tensor, guided: torch.Tensor, g_w: float) -> torch.Tensor:
    """mean_b(BCE(M_b, O_b) over (T, F) · g_w · 1[guided_b]): zero when nothing is guided."""
    bce = F.binary_cross_entropy(mask, oracle, reduction="none").mean((-1, -2))
    return (bce * g_w * guided.to(bce.dtype)).mean()


@dataclass
class Guidance:
    loss: torch.Tensor  # scalar, add to the L-MAC loss
    guided: torch.Tensor  # [B] bool: exempt these from L1/TV
    crosscor: torch.Tensor  # [B]

    @property
    def in_masks(self) -> float:
        """Fraction of guided samples (the reference's logged ``in_masks``)."""
        return self.guided.float().mean().item()


def guide(mask: torch.Tensor, masked_in: torch.Tensor, x_clean: torch.Tensor, cfg: GuidanceConfig) -> Guidance:
    """Guidance for one batch: ``mask``/``masked_in`` from the noisy input, ``x_clean`` = log1p|STFT(clean)|.

    ``x_clean`` may have more frames than the mask (the reference's decoder covers 425 of 431);
    it is cropped to the mask's frames, as the reference does.
    """
    x_clean = x_clean[:, : mask.shape[1]]
    with torch.no_grad():  # a threshold and a target: no gradient flows through either
        rho = crosscorrelation(x_clean, masked_in.detach())
        guided = rho >= cfg.crosscor_th
        oracle = oracle_mask(x_clean, cfg.bin_th)
    return Guidance(guidance_loss(mask, oracle, guided, cfg.g_w), guided, rho)
