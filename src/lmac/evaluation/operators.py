r"""Masking operators: what replaces the content an explanation removes.

The faithfulness metrics classify M⊙X and (1−M)⊙X, i.e. the removed bins are set to **zero**
(silence, since X = log1p|STFT|). Zeroing creates inputs the classifier never saw, and method
rankings on AI/AD/FF can flip with the masking strategy (Bolaños et al., Interspeech 2025), so
the same metrics are also computed with the removed share filled by B:

    masked-in  = X_in  + (1 − M)⊙B        masked-out = X_out + M⊙B

with X_in, X_out, M the explanation's own masked-in / masked-out spectrograms and map (so L-MAC,
the baselines and LMAC-TD go through the same formula; for a mask M⊙X it is M⊙X + (1−M)⊙B).
B = 0 is the spectrogram-domain metric. The fills, on the explanation's log1p grid [B, T, F]:

| operator | B                                                                     | columns |
|----------|-----------------------------------------------------------------------|---------|
| zero     | 0 (silence; the reference's metrics)                                  | AI, AD, … |
| mean     | the clip's mean log-spectrum: mean over frames of X, per bin          | AI_mean, … |
| noise    | max(0, μ_f + σ_f·z), z ~ N(0, 1) per bin; μ_f, σ_f the clip's per-bin mean and std over frames | AI_noise, … |

An all-ones mask leaves the masked-in input equal to X under every operator. The noise is drawn
from a generator seeded by (seed, "fill", version, clip id), like the contaminations of
``lmac.evaluation.conditions``, so every method sees the same fill for the same item.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .catalogue import OPERATORS as OPERATOR_FAMILY
from .conditions import item_generator

# zero: the papers' masking (removed bins set to 0); the fills are the catalogue's operator variants
FILL_OPERATORS = tuple(OPERATOR_FAMILY.suffixes)
OPERATORS = ("zero", *FILL_OPERATORS)


def fill(
    operator: str, logspec: torch.Tensor, item_ids: Sequence[str] | None = None, seed: int = 0, version: int = 0
) -> torch.Tensor:
    """The fill B [B, T, F] of ``operator`` for log1p spectrograms [B, T, F] (``item_ids``: noise only)."""
    if operator == "zero":
        return torch.zeros_like(logspec)
    mean = logspec.mean(1, keepdim=True)
    if operator == "mean":
        return mean.expand_as(logspec)
    if operator == "noise":
        if item_ids is None or len(item_ids) != logspec.shape[0]:
            raise ValueError("the noise fill needs one item id per clip")
        z = torch.stack(
            [torch.randn(logspec.shape[1:], generator=item_generator(seed, "fill", version, str(i))) for i in item_ids]
        ).to(logspec)
        return (mean + logspec.std(1, keepdim=True, correction=0) * z).clamp_min(0)
    raise ValueError(f"unknown masking operator '{operator}' (known: {', '.join(OPERATORS)})")


def masked_pair(
    mask: torch.Tensor, masked_in: torch.Tensor, masked_out: torch.Tensor, fill_value: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(masked-in, masked-out) with the removed share of each filled by ``fill_value``."""
    return masked_in + (1 - mask) * fill_value, masked_out + mask * fill_value
