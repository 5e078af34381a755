"""The classifier as the explainers see it: waveform → front end → CNN14 → logits + hidden reps.

``AudioClassifier`` bundles the front end with the network so that every consumer (training,
explainers, evaluation, ``lmac explain``) computes features the same way, and it records the
class names and front-end settings in its checkpoint so a model file is self-describing.

The checkpoint's ``meta`` also records ``clip_seconds``, the length of the clips it was trained on,
which ``lmac explain`` uses as its window on longer audio. It is kept out of ``config`` on purpose:
``config`` is part of the explainer trainings' resume fingerprints, which must not change for
existing classifiers. Checkpoints written before it was recorded load with ``clip_seconds`` None.
"""

from __future__ import annotations

import torch

from ..checkpoints import building_from, load_checkpoint, load_weights, save_checkpoint, stored_config
from ..frontend import FrontEnd, FrontEndConfig
from .cnn14 import Cnn14Classifier

KIND = "classifier"
WHAT = "a classifier"  # in messages about its checkpoints


class AudioClassifier(torch.nn.Module):
    def __init__(
        self, classes: list[str], width: float = 1.0, frontend: FrontEndConfig | None = None, dropout: float = 0.2
    ):
        super().__init__()
        self.classes = list(classes)
        self.clip_seconds: float | None = None  # training clip length, when known
        self.width = width
        self.dropout = dropout
        self.frontend = FrontEnd(frontend or FrontEndConfig())
        self.net = Cnn14Classifier(
            n_classes=len(self.classes), mel_bins=self.frontend.cfg.n_mels, width=width, dropout=dropout
        )

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """Logits [B, C] and the four block representations for waveforms [B, L]."""
        return self.net(self.frontend.features(wav))

    def classify_logspec(self, logspec: torch.Tensor) -> torch.Tensor:
        """Logits for a (masked) log1p-magnitude spectrogram: f(Z) = CNN14(log1p(Mel(expm1 Z)))."""
        return self.net(self.frontend.features_from_logspec(logspec))[0]

    def config(self) -> dict:
        return {
            "classes": self.classes,
            "width": self.width,
            "dropout": self.dropout,
            "frontend": self.frontend.cfg.to_dict(),
        }

    def save(self, path, meta: dict | None = None) -> None:
        meta = dict(meta or {})
        if self.clip_seconds is not None:
            meta.setdefault("clip_seconds", float(self.clip_seconds))
        save_checkpoint(path, KIND, self.config(), self.state_dict(), meta)

    @classmethod
    def from_config(cls, config: dict) -> AudioClassifier:
        return cls(
            config["classes"], config["width"], FrontEndConfig.from_dict(config["frontend"]), config.get("dropout", 0.2)
        )


def load_classifier(path, device: str | torch.device = "cpu") -> AudioClassifier:
    """Load a classifier checkpoint written by lmac, frozen and in eval mode."""
    payload = load_checkpoint(path, KIND)
    config = stored_config(path, payload, ("classes", "width", "frontend"), WHAT)
    with building_from(path, WHAT):
        model = AudioClassifier.from_config(config)
    load_weights(path, model, payload.get("state_dict"), WHAT)
    clip_seconds = (payload.get("meta") or {}).get("clip_seconds")
    model.clip_seconds = float(clip_seconds) if isinstance(clip_seconds, (int, float)) and clip_seconds > 0 else None
    model.requires_grad_(False)
    return model.to(device).eval()
