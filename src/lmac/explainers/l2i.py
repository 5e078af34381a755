"""L2I, Listen to Interpret (Parekh et al., 2022): explanations as a sum of relevant NMF components.

ψ (:class:`~.l2i_psi.L2IPsi`) maps the frozen classifier's representations to activations H
[B, K, T] of a fixed NMF dictionary W [F, K] (:mod:`.nmf`); θ (:class:`~.l2i_psi.Theta`) classifies
from H. To explain class c, component k's relevance is θ's weight for c times its pooled activation,
over the largest magnitude; the components above ``relevance_th`` (0.2, as the reference; its user
study also used 0.4) form the explanation, and the mask on the log1p|STFT| grid is their share of
the reconstruction, M = W_L·H_L / (W·H + ε) ∈ [0, 1], applied to log1p|X| as L-MAC's mask is. The
listenable output is that masked spectrogram with the input's phase. The masked-out part is
(1 − M)·log1p|X| for every method alike; the reference scored L2I's by subtracting log-Mel spectra.
"""

from __future__ import annotations

import torch

from ..checkpoints import building_from, load_checkpoint, load_weights, save_checkpoint, stored_config
from ..classifier.model import AudioClassifier
from ..errors import LmacError
from .base import Explainer, Explanation
from .l2i_psi import L2IPsi, Theta
from .lmac_decoder import _fit_last2

KIND = "l2i"
WHAT = "an L2I"
EPS = 1e-10  # the reference's, in the mask's denominator


class L2IExplainer(torch.nn.Module, Explainer):
    name = "l2i"
    class_conditional = True  # the relevances are read for the explained class

    def __init__(self, classifier: AudioClassifier, dictionary: torch.Tensor, n_frames: int, relevance_th: float = 0.2):
        super().__init__()
        n_freqs = classifier.frontend.cfg.n_freqs
        if dictionary.dim() != 2 or dictionary.shape[0] != n_freqs:
            raise LmacError(f"l2i: the NMF dictionary has shape {list(dictionary.shape)}, expected [{n_freqs}, K]")
        if not 0.0 <= relevance_th < 1.0:
            raise LmacError(f"l2i.relevance_th: {relevance_th} must be in [0, 1)")
        object.__setattr__(self, "classifier", classifier)  # frozen, saved separately
        self.relevance_th = float(relevance_th)
        n_components = dictionary.shape[1]
        self.register_buffer("dictionary", dictionary.clamp_min(0).float())
        self.psi = L2IPsi(n_components, width=classifier.width)
        self.theta = Theta(n_components, n_frames, len(classifier.classes))

    def analyse(self, wav: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(log1p|X| [B, T, F], the classifier's logits [B, C], NMF activations H [B, K, T])."""
        clf = self.classifier
        logspec = clf.frontend.log_spectrogram(wav)
        with torch.no_grad():
            logits, hs = clf.net(clf.frontend.features_from_logspec(logspec))
        # ψ's own frame count (the input's at 5 s) cropped, or replicate-padded, to the spectrogram's
        activations = _fit_last2(self.psi(hs).unsqueeze(1), self.dictionary.shape[1], logspec.shape[1]).squeeze(1)
        return logspec, logits, activations

    def reconstruct(self, activations: torch.Tensor) -> torch.Tensor:
        """W·H on the spectrogram's grid, [B, T, F]."""
        return (self.dictionary @ activations).transpose(1, 2)

    def mask(self, activations: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Share of the reconstruction held by the components relevant to ``target``, [B, T, F] in [0, 1]."""
        keep = (self.theta.relevance(activations, target) > self.relevance_th).to(activations)
        selected = self.reconstruct(activations * keep[:, :, None])
        return (selected / (self.reconstruct(activations) + EPS)).clamp(0.0, 1.0)

    def explain(self, wav: torch.Tensor, target: torch.Tensor | None = None) -> Explanation:
        with torch.no_grad():
            logspec, logits, activations = self.analyse(wav)
            if target is None:
                target = logits.argmax(-1)
            mask = self.mask(activations, target)
            masked_in = mask * logspec
            waveform = self.classifier.frontend.resynthesise(masked_in, wav)
            return Explanation(logspec, mask, masked_in, (1 - mask) * logspec, target, waveform)

    def config(self) -> dict:
        return {
            "n_components": self.dictionary.shape[1],
            "n_frames": self.theta.n_frames,
            "relevance_th": self.relevance_th,
            "width": self.classifier.width,
            "classes": list(self.classifier.classes),
        }

    def save(self, path, meta: dict | None = None) -> None:
        save_checkpoint(path, KIND, self.config(), self.state_dict(), meta)

    @classmethod
    def load(cls, path, classifier: AudioClassifier, payload: dict | None = None) -> L2IExplainer:
        payload = payload if payload is not None else load_checkpoint(path, KIND)
        cfg = stored_config(path, payload, ("n_components", "n_frames", "relevance_th", "width", "classes"), WHAT)
        if cfg["width"] != classifier.width or list(cfg["classes"]) != list(classifier.classes):
            raise LmacError(f"{path}: ψ and θ were trained for another classifier (width or classes differ)")
        n_freqs = classifier.frontend.cfg.n_freqs
        with building_from(path, WHAT):
            model = cls(classifier, torch.zeros(n_freqs, cfg["n_components"]), cfg["n_frames"], cfg["relevance_th"])
        load_weights(path, model, payload.get("state_dict"), WHAT)
        return model.to(next(classifier.parameters()).device).eval()
