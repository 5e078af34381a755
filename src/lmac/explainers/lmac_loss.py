"""L-MAC's training objective and its two published weight sets.

loss = λ_in·CE(f(M⊙X), ŷ) − λ_out·CE(f((1−M)⊙X), ŷ) + λ_L1·L1(M) + λ_TV·TV(M) [+ guidance]

By default L1 and TV are proper means (per mask element), so the weights do not depend on the
batch size. ``reduction="reference"`` reproduces ``train_lmac.py``: the batch-mean L1 is
multiplied by the number of non-guided samples (effective weight B·λ_L1), and TV is built from
sums, (Σ time-diff² + Σ freq-diff²) / (2B), times the same multiplier.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import LmacError

PRESETS = {
    # released recipe lmac_cnn14.yaml (Apr 2024 onwards)
    "recipe": {"l_in": 4.0, "l_out": 0.2, "l1": 0.4, "tv": 0.0},
    # paper-era stft2mel_cnn14.yaml (Jan–Apr 2024)
    "paper-era": {"l_in": 0.5, "l_out": 0.5, "l1": 0.3, "tv": 0.1},
}


@dataclass(frozen=True)
class LossWeights:
    l_in: float = 4.0
    l_out: float = 0.2
    l1: float = 0.4
    tv: float = 0.0
    reduction: str = "mean"   # "mean" or "reference"

    @classmethod
    def from_config(cls, cfg: dict) -> "LossWeights":
        preset = cfg.get("preset", "recipe")
        if preset not in PRESETS:
            raise LmacError(f"lmac.loss.preset: unknown preset '{preset}' (choose from {', '.join(PRESETS)})")
        values = {**PRESETS[preset], **{k: cfg[k] for k in ("l_in", "l_out", "l1", "tv") if cfg.get(k) is not None}}
        return cls(**values, reduction=cfg.get("reduction", "mean"))


def total_variation(mask: torch.Tensor, reduction: str) -> torch.Tensor:
    dt = (mask[:, 1:, :] - mask[:, :-1, :]).pow(2)
    df = (mask[:, :, 1:] - mask[:, :, :-1]).pow(2)
    if reduction == "reference":
        return (dt.sum() + df.sum()) / (2 * mask.shape[0])
    return dt.mean() + df.mean()


def lmac_loss(logits_in: torch.Tensor, logits_out: torch.Tensor, target: torch.Tensor,
              mask: torch.Tensor, w: LossWeights) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its parts; ``mask`` is [B, T, F] in (0, 1)."""
    ce_in = F.cross_entropy(logits_in, target)
    ce_out = F.cross_entropy(logits_out, target)
    if w.reduction == "reference":
        scale = mask.shape[0]
        l1 = mask.abs().mean() * scale
        tv = total_variation(mask, "reference") * scale
    elif w.reduction == "mean":
        l1 = mask.abs().mean()
        tv = total_variation(mask, "mean")
    else:
        raise LmacError(f"lmac.loss.reduction: unknown value '{w.reduction}' (mean or reference)")
    total = w.l_in * ce_in - w.l_out * ce_out + w.l1 * l1 + w.tv * tv
    parts = {"ce_in": ce_in.item(), "ce_out": ce_out.item(), "l1": l1.item(), "tv": tv.item()}
    return total, parts
