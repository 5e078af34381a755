"""L-MAC: a decoder reads the frozen classifier's representations and outputs a spectrogram mask.

Mask domain (``mask_domain``): the reference multiplies the log1p-magnitude, X_in = M·log1p|X|,
whose listenable form is expm1(M·log1p|X|) = (1+|X|)^M − 1 (``log1p``, default, as published);
``magnitude`` multiplies |X| itself, X_in = log1p(M·|X|). Frame coverage (``frames``): ``pad``
(default) extends the decoder output to every STFT frame of the input; ``reference`` keeps the
decoder's frame count and crops the spectrogram, as the recipe does (425 of 431 frames at 5 s).
"""

from __future__ import annotations

import torch

from ..checkpoints import building_from, load_checkpoint, load_weights, save_checkpoint, stored_config
from ..classifier.model import AudioClassifier
from ..errors import LmacError
from .base import Explainer, Explanation
from .lmac_decoder import LmacDecoder, fit_frames

KIND = "lmac"
WHAT = "an L-MAC"  # in messages about its checkpoints (L-MAC FT's too)
MASK_DOMAINS = ("log1p", "magnitude")


class LmacExplainer(torch.nn.Module, Explainer):
    name = "lmac"
    class_conditional = False  # the decoder reads hs, not a class: the mask explains the prediction

    def __init__(self, classifier: AudioClassifier, mask_domain: str = "log1p", frames: str = "pad"):
        super().__init__()
        if mask_domain not in MASK_DOMAINS:
            raise LmacError(f"lmac.mask_domain: unknown value '{mask_domain}' (log1p or magnitude)")
        if frames not in ("pad", "reference"):
            raise LmacError(f"lmac.frames: unknown value '{frames}' (pad or reference)")
        # a plain attribute, not a submodule: the classifier is frozen and saved separately
        object.__setattr__(self, "classifier", classifier)
        self.mask_domain, self.frames = mask_domain, frames
        self.decoder = LmacDecoder(width=classifier.width)

    def apply_mask(self, mask: torch.Tensor, logspec: torch.Tensor) -> torch.Tensor:
        if self.mask_domain == "log1p":
            return mask * logspec
        return torch.log1p(mask * torch.expm1(logspec))

    def forward(self, wav: torch.Tensor, target: torch.Tensor | None = None) -> Explanation:
        clf = self.classifier
        logspec = clf.frontend.log_spectrogram(wav)
        logits, hs = clf.net(clf.frontend.features_from_logspec(logspec))
        if target is None:
            target = logits.argmax(-1)
        mask_logits = fit_frames(
            self.decoder(hs), logspec.shape[1], logspec.shape[2], mode="pad" if self.frames == "pad" else "reference"
        )
        logspec = logspec[:, : mask_logits.shape[1]]
        mask = torch.sigmoid(mask_logits)
        masked_in = self.apply_mask(mask, logspec)
        masked_out = self.apply_mask(1 - mask, logspec)
        waveform = clf.frontend.resynthesise(masked_in, wav)
        return Explanation(logspec, mask, masked_in, masked_out, target, waveform)

    def explain(self, wav: torch.Tensor, target: torch.Tensor | None = None) -> Explanation:
        with torch.no_grad():
            return self.forward(wav, target)

    def config(self) -> dict:
        return {"mask_domain": self.mask_domain, "frames": self.frames, "width": self.classifier.width}

    def save(self, path, meta: dict | None = None) -> None:
        save_checkpoint(path, KIND, self.config(), self.decoder.state_dict(), meta)

    @classmethod
    def load(cls, path, classifier: AudioClassifier, payload: dict | None = None) -> LmacExplainer:
        """The explainer in checkpoint ``path`` (``payload``: its content, when already read)."""
        payload = payload if payload is not None else load_checkpoint(path, KIND)
        cfg = stored_config(path, payload, ("mask_domain", "frames", "width"), WHAT)
        if cfg["width"] != classifier.width:
            raise LmacError(
                f"{path}: decoder was trained for a width-{cfg['width']} classifier, "
                f"this classifier has width {classifier.width}"
            )
        with building_from(path, WHAT):
            model = cls(classifier, cfg["mask_domain"], cfg["frames"])
        load_weights(path, model.decoder, payload.get("state_dict"), WHAT)
        return model.to(next(classifier.parameters()).device).eval()
