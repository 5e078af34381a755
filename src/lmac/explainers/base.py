"""The one interface every explanation method implements.

An explainer turns a batch of waveforms into an :class:`Explanation` of the frozen classifier's
decision. Evaluation only ever reads the fields below, so it never branches on the method:

- ``logspec``: log1p|STFT| of the input, the spectrogram every method's map lives on;
- ``mask``: the map in [0, 1] on that grid (a mask for L-MAC, a normalised attribution for a
  gradient method), scored for sparsity/complexity and drawn in figures;
- ``masked_in`` / ``masked_out``: log1p-magnitude spectrograms of what the explanation keeps and
  removes; the faithfulness metrics classify these through the classifier's own front end;
- ``waveform``: the listenable explanation, [B, L].
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch


@dataclass
class Explanation:
    logspec: torch.Tensor
    mask: torch.Tensor
    masked_in: torch.Tensor
    masked_out: torch.Tensor
    target: torch.Tensor
    waveform: torch.Tensor


class Explainer(ABC):
    """Explains a frozen :class:`lmac.classifier.model.AudioClassifier`."""

    name: str = "explainer"
    #: whether ``explain(wav, target)`` depends on ``target``. False for decoders that always mask
    #: for the classifier's own decision (L-MAC, LMAC-TD) and for class-blind references
    #: (all_ones, random); the random-logit sanity check is not applicable to those.
    class_conditional: bool = True

    def decision(self, wav: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
        """The class explained by default: the classifier's ``prediction`` on ``wav``, unless the method
        explains a decision taken on other features (LMAC-TD's ``target_from: features``)."""
        return prediction

    @abstractmethod
    def explain(self, wav: torch.Tensor, target: torch.Tensor | None = None) -> Explanation:
        """Explain the classifier's decision (``target``; default its prediction) on ``wav`` [B, L]."""
