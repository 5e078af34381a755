"""L-MAC's training objective and its two published weight sets.

loss = λ_in·CE(f(M⊙X), ŷ) − λ_out·CE(f((1−M)⊙X), ŷ) + λ_L1·R_L1(M) + λ_TV·R_TV(M) [+ guidance]

The weights λ are always stated in the reference's units (the numbers of its yaml files), so a
preset is exactly the published weight set. What R_L1 and R_TV are depends on ``reduction``.

``reduction="reference"`` is ``train_lmac.py::compute_objectives`` verbatim, with r_b = 1 for a
regularised sample and 0 for one exempt from L1/TV (a guided sample in L-MAC FT, :mod:`.guidance`):

    R_L1 = mean_{b,t,f} |M| · Σ_b r_b
    R_TV = (Σ_{b,t,f} (ΔtM)² + Σ_{b,t,f} (ΔfM)²) / (2B) · Σ_b r_b

Both grow with the batch size B (without guidance R_L1 = B·mean|M|), and R_TV also with the mask
size, because it is built from sums: the recipe's L1 weight 0.4 is effectively 6.4 at batch 16.
Taken as a per-element weight, 0.4 gives a far weaker sparsity pressure than the recipe had (the
decoder then learns a dense, input-independent mask), so ``reduction="mean"`` (default) converts
the reference's weights into per-element ones at the reference's operating point, batch
B_ref = 16 and a 5 s mask of T_ref × F_ref = 425 × 513 bins, and then uses proper per-sample
means, with N_t = (T_ref − 1)·F_ref and N_f = T_ref·(F_ref − 1) the reference's number of
time and frequency differences per mask:

    R_L1 = B_ref · (1/B) Σ_b r_b · mean_{t,f} |M_b|
    R_TV = (B_ref / 2) · (1/B) Σ_b r_b · (N_t · mean_{t,f} (ΔtM_b)² + N_f · mean_{t,f} (ΔfM_b)²)

At B = 16 with 425 × 513 masks and no guidance the two reductions give the same loss; elsewhere
``mean`` keeps the published per-element pressure, independent of batch size and clip length,
while ``reference`` changes with both. With guidance ``mean`` exempts exactly the guided samples;
``reference`` keeps the recipe's batch-wide mean times the number of non-guided samples.

Measured on the embedded default (10 epochs, recipe preset, lr 1e-3): ``mean`` as above learns
sparse, input-dependent masks (mean 0.07), as ``reference`` at batch 16 does (0.05); the recipe's
0.4 taken as a plain per-element weight gives a dense mask (mean 0.78) whose mass sits on the
event no more than chance. The paper-era TV weight 0.1 is, in these units, ≈ 1.7·10⁵ per mean
squared difference; with it the decoder settles on a constant mask (whether the paper-era code
computed TV this way is not established).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from ..errors import LmacError

PRESETS = {
    # released recipe lmac_cnn14.yaml (Apr 2024 onwards)
    "recipe": {"l_in": 4.0, "l_out": 0.2, "l1": 0.4, "tv": 0.0},
    # paper-era stft2mel_cnn14.yaml (Jan–Apr 2024)
    "paper-era": {"l_in": 0.5, "l_out": 0.5, "l1": 0.3, "tv": 0.1},
}
REDUCTIONS = ("mean", "reference")
# The reference's operating point: batch 16, 5 s at 16 kHz -> a 425 x 513 mask (docs/reproducibility_notes.md#l-mac).
REFERENCE_BATCH = 16
REFERENCE_MASK = (425, 513)


@dataclass(frozen=True)
class MaskLossWeights:
    """The weights every masking explainer's loss has: masked-in CE, masked-out CE and L1 (reference units)."""

    l_in: float = 4.0
    l_out: float = 0.2
    l1: float = 0.4


@dataclass(frozen=True)
class LossWeights(MaskLossWeights):
    """L-MAC's loss weights, and how L1/TV are reduced."""

    tv: float = 0.0
    reduction: str = "mean"  # "mean" or "reference"

    def __post_init__(self):
        if self.reduction not in REDUCTIONS:
            raise LmacError(f"lmac.loss.reduction: unknown value '{self.reduction}' (mean or reference)")

    @classmethod
    def from_config(cls, cfg: dict) -> LossWeights:
        preset = cfg.get("preset", "recipe")
        if preset not in PRESETS:
            raise LmacError(f"lmac.loss.preset: unknown preset '{preset}' (choose from {', '.join(PRESETS)})")
        values = {
            **PRESETS[preset],
            **{k: float(cfg[k]) for k in ("l_in", "l_out", "l1", "tv") if cfg.get(k) is not None},
        }
        return cls(**values, reduction=cfg.get("reduction", "mean"))

    def as_dict(self) -> dict:
        return asdict(self)


def total_variation(mask: torch.Tensor, reduction: str) -> torch.Tensor:
    """R_TV of the module docstring without the per-sample exemption (all r_b = 1)."""
    return _regularisers(mask, torch.ones(mask.shape[0], device=mask.device), reduction)[1]


def _regularisers(mask: torch.Tensor, regularise: torch.Tensor, reduction: str) -> tuple[torch.Tensor, torch.Tensor]:
    dt = (mask[:, 1:, :] - mask[:, :-1, :]).pow(2)
    df = (mask[:, :, 1:] - mask[:, :, :-1]).pow(2)
    if reduction == "reference":
        n_regularised = regularise.sum()
        l1 = mask.abs().mean() * n_regularised
        tv = (dt.sum() + df.sum()) / (2 * mask.shape[0]) * n_regularised
        return l1, tv
    if reduction == "mean":
        t_ref, f_ref = REFERENCE_MASK
        n_t, n_f = (t_ref - 1) * f_ref, t_ref * (f_ref - 1)
        per_l1 = mask.abs().mean((-1, -2))
        per_tv = n_t * dt.mean((-1, -2)) + n_f * df.mean((-1, -2))
        l1 = REFERENCE_BATCH * (regularise * per_l1).mean()
        tv = REFERENCE_BATCH / 2 * (regularise * per_tv).mean()
        return l1, tv
    raise LmacError(f"lmac.loss.reduction: unknown value '{reduction}' (mean or reference)")


def lmac_loss(
    logits_in: torch.Tensor,
    logits_out: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    w: LossWeights,
    regularise: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its parts for a mask [B, T, F] in (0, 1).

    ``regularise`` [B] is 1 for samples under L1/TV and 0 for exempt ones (guided samples of
    L-MAC FT); None regularises every sample. ``parts["l1"]``/``["tv"]`` are R_L1/R_TV, so
    total = l_in·ce_in − l_out·ce_out + l1·parts["l1"] + tv·parts["tv"] in both reductions.
    """
    ce_in = F.cross_entropy(logits_in, target)
    ce_out = F.cross_entropy(logits_out, target)
    if regularise is None:
        regularise = torch.ones(mask.shape[0], device=mask.device)
    l1, tv = _regularisers(mask, regularise.to(mask.dtype), w.reduction)
    total = w.l_in * ce_in - w.l_out * ce_out + w.l1 * l1 + w.tv * tv
    parts = {"ce_in": ce_in.item(), "ce_out": ce_out.item(), "l1": l1.item(), "tv": tv.item()}
    return total, parts
