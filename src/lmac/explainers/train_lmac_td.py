"""Train one LMAC-TD explainer (one α) on a frozen classifier.

Encoder, U, masker and decoder learn jointly from scratch, as the reference's default; with
``pretrained_encoder_decoder`` E and D start from an earlier LMAC-TD checkpoint or SpeechBrain
``encoder.ckpt``/``decoder.ckpt`` and are frozen unless ``freeze_encoder_decoder`` is false.
The class to keep is the classifier's own decision ŷ on the input — the noisy input when
``noise`` is on (the top-level ``noise`` section's source, mixed at its level, 0 dB by default,
as the reference's WHAM! augmentation), seeded as :mod:`lmac.explainers.trainer` describes.

Checkpoint selection is by validation loss (``select: best``); ``select: last`` keeps the last
epoch, as the reference's recipe in effect does. The work directory makes the run resumable;
``epochs`` (and the α list) are left out of its fingerprint, so asking for more epochs continues
a finished shorter run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from ..data.download import sha256_file
from ..data.noise import describe
from ..errors import LmacError
from .lmac_td import LmacTDExplainer, TDOutput, build_lmac_td
from .lmac_td_loss import TDLossWeights, lmac_td_loss
from .lmac_td_presets import DEFAULT_PRESET
from .registry import td_method
from .trainer import ExplainerJob, ExplainerTrainer

log = logging.getLogger("lmac.explainers")

#: keys that do not change what one run computes (``alphas`` lists the runs; ``epochs`` may grow)
NOT_FINGERPRINTED = ("epochs", "alphas")


def build_from_config(classifier, cfg: dict, alpha: float) -> LmacTDExplainer:
    """The untrained explainer an ``lmac_td`` config section describes, for one α."""
    explainer = build_lmac_td(
        classifier,
        cfg.get("scale") or {},
        cfg.get("preset") or DEFAULT_PRESET,
        alpha,
        cfg.get("feature_n_fft"),
        cfg.get("target_from", "classifier"),
    )
    if cfg.get("pretrained_encoder_decoder"):
        explainer.load_encoder_decoder(cfg["pretrained_encoder_decoder"], cfg.get("freeze_encoder_decoder", True))
    return explainer


def training_loss(explainer: LmacTDExplainer, wav: torch.Tensor, weights: TDLossWeights) -> tuple[torch.Tensor, dict]:
    """The LMAC-TD objective on one batch (what one training step differentiates) and its parts."""
    frontend, classifier = explainer.feature_frontend, explainer.classifier
    out: TDOutput = explainer(wav)
    mag_in = frontend.magnitude(frontend.stft(out.explanation))  # shared by f(i) and the L1 term
    logits_in = classifier.net(frontend.features_from_magnitude(mag_in))[0]
    logits_out = explainer.classify(out.masked_out)[0]
    loss, parts = lmac_td_loss(
        logits_in, logits_out, out.target, torch.log1p(mag_in), out.explanation, out.masked_out, wav, weights
    )
    parts["fid_in"] = (logits_in.argmax(-1) == out.target).float().mean().item()
    parts["mask_mean"] = out.mask.mean().item()
    return loss, parts


class LmacTDTrainer(ExplainerTrainer):
    """One LMAC-TD explainer for the mixing weight ``job.alpha``; every part that is not frozen learns."""

    def build(self) -> LmacTDExplainer:
        cfg, classifier = self.job.cfg, self.classifier
        explainer = build_from_config(classifier, cfg, self.job.alpha).to(self.dev)
        self.weights = TDLossWeights.from_config(cfg.get("preset") or DEFAULT_PRESET, cfg.get("loss"))
        frontend = explainer.feature_frontend
        if frontend.cfg.n_fft != classifier.frontend.cfg.n_fft:
            log.warning(
                "LMAC-TD feeds the classifier n_fft-%d features; it was trained with n_fft %d "
                "(reproduces PR #2838's front end)",
                frontend.cfg.n_fft,
                classifier.frontend.cfg.n_fft,
            )
        return explainer

    def summary(self, params: list[torch.nn.Parameter]) -> str:
        return (
            f"LMAC-TD α={self.job.alpha:g}: {sum(p.numel() for p in params) / 1e6:.3f} M trainable parameters, "
            f"{self.explainer.arch}, loss {self.weights}"
        )

    def loss(self, clean: torch.Tensor, wav: torch.Tensor) -> tuple[torch.Tensor, dict]:
        return training_loss(self.explainer, wav, self.weights)

    def own_settings(self) -> dict:
        cfg = self.job.cfg
        return {
            "cfg": {k: v for k, v in cfg.items() if k not in NOT_FINGERPRINTED},
            "alpha": float(self.job.alpha),
            # the pre-trained encoder/decoder's content, not only its path (a rerun pre-training rewrites it)
            "encoder_decoder_sha256": (
                sha256_file(cfg["pretrained_encoder_decoder"])
                if Path(cfg.get("pretrained_encoder_decoder") or "").is_file()
                else None
            ),
            "noise": {"cfg": self.job.noise_cfg, "source": describe(self.source)} if self.noisy else None,
        }

    def meta(self, history: list[dict]) -> dict:
        job = self.job
        return {
            "seed": job.seed,
            "method": td_method(job.alpha),
            "loss": self.weights.__dict__,
            "noise": job.noise_cfg if self.noisy else None,
            "epochs": len(history),
            "select": job.cfg.get("select", "best"),
        }


@dataclass(frozen=True, kw_only=True)
class LmacTDJob(ExplainerJob):
    """Train and export one LMAC-TD model (config section ``lmac_td``) for the mixing weight ``alpha``."""

    SECTION = "lmac_td"
    TRAINER = LmacTDTrainer
    alpha: float

    @classmethod
    def own_fields(
        cls, config: dict, *, classifier_path: str, alpha: float, encoder_decoder: str | None = None
    ) -> dict:
        """``encoder_decoder``: the pair pre-trained by :class:`~.lmac_td_autoencoder.AutoencoderJob`,
        which ``lmac_td.encoder_decoder.pretrain: true`` asks for (unless ``pretrained_encoder_decoder`` names one)."""
        cfg = config[cls.SECTION]
        if encoder_decoder is not None:
            cfg = {**cfg, "pretrained_encoder_decoder": str(encoder_decoder)}
        elif (cfg.get("encoder_decoder") or {}).get("pretrain") and not cfg.get("pretrained_encoder_decoder"):
            raise LmacError(
                "lmac_td.encoder_decoder.pretrain is true but no pre-trained encoder/decoder is given "
                "(train one with lmac pretrain-lmac-td-ed, or set pretrain: false)"
            )
        return {"classifier_path": classifier_path, "alpha": float(alpha), "cfg": cfg}

    @classmethod
    def rule_inputs(cls, snakemake) -> dict:
        return {
            **super().rule_inputs(snakemake),
            "alpha": float(snakemake.wildcards.alpha),
            "encoder_decoder": snakemake.input.get("encoder_decoder"),
        }
