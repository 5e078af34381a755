"""LMAC-TD's training objective (the reference's ``train_lmactd.py::compute_objectives``).

loss = λ_in·CE(f(i), ŷ) − λ_out·CE(f(o), ŷ) + λ_L1·mean(log1p|STFT(i)|) + λ_sisnr·(−SI-SNR(i + o, x))

f is the frozen classifier on a waveform's features (the feature front end), ŷ its decision on
the input. Unlike L-MAC's, the L1 term is a plain global mean, so its weight does not grow with
the batch size. The SI-SNR consistency term is off in both published configurations
(``reg_w_sum = 0``); it is always *reported* (``parts["sisnr"]``, in dB) because i + o = D(E(x))
makes it a direct measure of how well the learned encoder/decoder resynthesise the input.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import LmacError
from .lmac_loss import MaskLossWeights
from .lmac_td_presets import DEFAULT_PRESET, preset

#: SpeechBrain's ``cal_si_snr`` guard, kept so values match ``get_si_snr_with_pitwrapper``
SI_SNR_EPS = 1e-8
WEIGHT_KEYS = ("l_in", "l_out", "l1", "sisnr")


@dataclass(frozen=True)
class TDLossWeights(MaskLossWeights):
    """LMAC-TD's loss weights: L-MAC's three, plus the SI-SNR term that keeps i close to x."""

    sisnr: float = 0.0

    @classmethod
    def from_config(cls, preset_name: str = DEFAULT_PRESET, overrides: dict | None = None) -> TDLossWeights:
        """The preset's weights with every non-null entry of ``overrides`` (``lmac_td.loss``) applied."""
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(WEIGHT_KEYS))
        if unknown:
            raise LmacError(f"lmac_td.loss.{unknown[0]}: unknown weight (known: {', '.join(WEIGHT_KEYS)})")
        values = {**preset(preset_name)["loss"], **{k: v for k, v in overrides.items() if v is not None}}
        for key, value in values.items():
            if value < 0:
                raise LmacError(f"lmac_td.loss.{key}: must be >= 0, got {value}")
        return cls(**{k: float(v) for k, v in values.items()})


def si_snr(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Scale-invariant SNR in dB per item, [B, L] → [B] (zero-mean signals, SpeechBrain's eps)."""
    est = estimate - estimate.mean(-1, keepdim=True)
    ref = reference - reference.mean(-1, keepdim=True)
    proj = (est * ref).sum(-1, keepdim=True) * ref / (ref.pow(2).sum(-1, keepdim=True) + SI_SNR_EPS)
    noise = est - proj
    ratio = proj.pow(2).sum(-1) / (noise.pow(2).sum(-1) + SI_SNR_EPS)
    return 10 * torch.log10(ratio + SI_SNR_EPS)


def lmac_td_loss(
    logits_in: torch.Tensor,
    logits_out: torch.Tensor,
    target: torch.Tensor,
    logspec_in: torch.Tensor,
    explanation: torch.Tensor,
    masked_out: torch.Tensor,
    wav: torch.Tensor,
    w: TDLossWeights,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its parts.

    ``logits_in``/``logits_out``: f(i), f(o); ``logspec_in``: log1p|STFT(i)| on the feature
    front end's grid; ``explanation``/``masked_out``/``wav``: i, o, x as [B, L] waveforms.
    """
    ce_in = F.cross_entropy(logits_in, target)
    ce_out = F.cross_entropy(logits_out, target)
    l1 = logspec_in.mean()
    with torch.set_grad_enabled(torch.is_grad_enabled() and w.sisnr > 0):  # a diagnostic when off
        snr = si_snr(explanation + masked_out, wav).mean()
    total = w.l_in * ce_in - w.l_out * ce_out + w.l1 * l1
    if w.sisnr:
        total = total - w.sisnr * snr
    parts = {"ce_in": ce_in.item(), "ce_out": ce_out.item(), "l1": l1.item(), "sisnr": snr.item()}
    return total, parts
