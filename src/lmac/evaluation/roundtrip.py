r"""Round-trip faithfulness: the metrics on what a listener hears.

L-MAC and the baselines are scored on masked log1p spectrograms, LMAC-TD on its waveforms
re-analysed by the front end (docs/reproducibility_notes.md#lmac-td), so their published numbers are not comparable.
Here every method's audio goes through the same round trip, waveform → STFT → classifier:

- heard masked-in:  log1p|STFT(ŝ)| with ŝ the explanation's listenable waveform;
- heard masked-out: log1p|STFT(istft(expm1(X_out), phase of x))|, the removed part resynthesised
  with the input's phase, the rule every mask method uses for its listenable output;
- heard input:      log1p|STFT(istft(expm1(X), phase of x))|, the input through the same
  resynthesis, so an all-ones mask gives exactly the reference's logits (no float-noise
  "increases" counted by AI) and the metrics equal the spectrogram-domain ones up to the STFT
  round-trip error.

The columns are the faithfulness metrics with the suffix ``_rt`` (AI_rt, AD_rt, …). For LMAC-TD
masked-in is unchanged (its masked-in already is log1p|STFT(ŝ)|, so the evaluation classifies it
once). The heard input depends only on the input's spectrogram, so the evaluation computes it once
per batch for every method (:mod:`lmac.evaluation.scoring`).
"""

from __future__ import annotations

import torch

from ..frontend import FrontEnd
from .catalogue import ROUND_TRIP

SUFFIX = ROUND_TRIP.suffixes["heard"]


def heard_input(frontend: FrontEnd, wav: torch.Tensor, logspec: torch.Tensor) -> torch.Tensor:
    """The heard input [B, T, F]: the same for every method whose ``logspec`` is the input's."""
    return frontend.log_spectrogram(frontend.resynthesise(logspec, wav))


def heard_explanation(
    frontend: FrontEnd, wav: torch.Tensor, masked_out: torch.Tensor, explanation: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(heard masked-in, heard masked-out) log1p spectrograms [B, T, F] of one explanation."""
    return frontend.log_spectrogram(explanation), frontend.log_spectrogram(frontend.resynthesise(masked_out, wav))


def heard_logspecs(
    frontend: FrontEnd, wav: torch.Tensor, logspec: torch.Tensor, masked_out: torch.Tensor, explanation: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(heard input, heard masked-in, heard masked-out) log1p spectrograms [B, T, F] (module docstring)."""
    return (heard_input(frontend, wav, logspec), *heard_explanation(frontend, wav, masked_out, explanation))
