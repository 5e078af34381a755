"""L2I's two small networks: ψ (CNN14 representations → NMF time activations) and θ (activations → class).

ψ is the L-MAC decoder's transposed-convolution stack (:class:`~.lmac_decoder.LmacDecoder`, same
channel mapping at any width) with L2I's ending: a ReLU after convt8, a last layer with K output
channels and a (7, 5) kernel, a ReLU, and the mean over frequency. At width 1 it is state-dict
compatible with SpeechBrain's ``speechbrain.lobes.models.L2I.CNN14PSI_stft_2d(dim=2048, K)`` and
gives the same output on the same weights (at width 1/16 with ``dim=128``); its own frame count
(431 for a 5 s clip) is fitted to the spectrogram's by the caller.

θ pools the activations over time with one learned weight per frame (``hard_att``, a
Linear(T → 1) for the training clip's T frames) and maps the pooled vector to class logits
(``classifier.0``, a Linear(K → C) without bias). SpeechBrain's ``Theta`` ends in a softmax; this one
returns the logits, so that the training objective takes a stable log-softmax (same values).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .lmac_decoder import LmacDecoder


class L2IPsi(LmacDecoder):
    """ψ: ``forward(hs=(x6, x5, x4, x3)) -> NMF activations [B, K, T_out]`` (non-negative)."""

    def __init__(self, n_components: int, width: float = 1.0, emb_dim: int = 2048):
        super().__init__(width, emb_dim)
        self.n_components = n_components
        c3 = self.channels[0]
        self.convt9 = nn.ConvTranspose2d(c3, n_components, (7, 5), (1, 4), 0)

    def forward(self, hs) -> torch.Tensor:
        h = self.sum_paths(hs)
        h = self.nonl(self.convt8(h))
        h = self.nonl(self.convt9(h))  # [B, K, T, F]
        return F.relu(h.mean(-1))


class Theta(nn.Module):
    """θ: NMF activations [B, K, T] → class logits [B, C] (time pooling, then a linear map)."""

    def __init__(self, n_components: int, n_frames: int, n_classes: int):
        super().__init__()
        self.n_frames = n_frames
        self.hard_att = nn.Linear(n_frames, 1, bias=False)
        self.classifier = nn.Sequential(nn.Linear(n_components, n_classes, bias=False))

    def fit(self, activations: torch.Tensor) -> torch.Tensor:
        """``activations`` cropped or zero-padded at the end to the frames θ pools (other clip lengths)."""
        missing = self.n_frames - activations.shape[-1]
        return F.pad(activations, (0, missing)) if missing > 0 else activations[..., : self.n_frames]

    def pool(self, activations: torch.Tensor) -> torch.Tensor:
        """Per-component pooled activation z [B, K]."""
        return self.hard_att(self.fit(activations)).squeeze(-1)

    def forward(self, activations: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(activations))

    def relevance(self, activations: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Relevance of each component for class ``target`` [B]: θ_c ⊙ z, divided by its largest magnitude."""
        r = self.classifier[0].weight[target] * self.pool(activations)
        return r / r.abs().amax(-1, keepdim=True).clamp_min(torch.finfo(r.dtype).tiny)
