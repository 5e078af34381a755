r"""Round-trip faithfulness: the metrics on what a listener hears.

L-MAC and the baselines are scored on masked log1p spectrograms, LMAC-TD on its waveforms
re-analysed by the front end (evaluation §0.3), so their published numbers are not comparable.
Here every method's audio goes through the same round trip, waveform → STFT → classifier:

- heard masked-in:  log1p|STFT(ŝ)| with ŝ the explanation's listenable waveform;
- heard masked-out: log1p|STFT(istft(expm1(X_out), phase of x))|, the removed part resynthesised
  with the input's phase, the rule every mask method uses for its listenable output;
- heard input:      log1p|STFT(istft(expm1(X), phase of x))|, the input through the same
  resynthesis, so an all-ones mask gives exactly the reference's logits (no float-noise
  "increases" counted by AI) and the metrics equal the spectrogram-domain ones up to the STFT
  round-trip error.

The columns are the faithfulness metrics with the suffix ``_rt`` (AI_rt, AD_rt, …). For LMAC-TD
masked-in is unchanged (its masked-in already is log1p|STFT(ŝ)|).
"""

from __future__ import annotations

import torch

from ..frontend import FrontEnd

SUFFIX = "_rt"


def heard_logspecs(frontend: FrontEnd, wav: torch.Tensor, logspec: torch.Tensor, masked_out: torch.Tensor,
                   explanation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(heard input, heard masked-in, heard masked-out) log1p spectrograms [B, T, F] (module docstring)."""
    heard_input = frontend.log_spectrogram(frontend.resynthesise(logspec, wav))
    heard_in = frontend.log_spectrogram(explanation)
    heard_out = frontend.log_spectrogram(frontend.resynthesise(masked_out, wav))
    return heard_input, heard_in, heard_out
