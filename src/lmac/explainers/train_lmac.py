"""Train the L-MAC decoder on a frozen classifier, and fine-tune it with guidance (L-MAC FT).

Only the decoder learns; the class to keep is the classifier's own decision ŷ on the input.
As the paper, inputs can be mixed with background noise at 0 dB in training *and* validation
(``lmac.noise: true``; the source is the top-level ``noise`` section: generated offline, or
WHAM! ``tr/``), seeded as :mod:`lmac.explainers.trainer` describes.

Optimiser and schedule follow the recipe (Adam, ReduceLROnPlateau with factor 0.5, patience 3,
not before ``start_epoch``: SpeechBrain's ``dont_halve_until_epoch``); the plateau is watched on
the validation loss, or with ``scheduler.monitor: fidelity`` on −Fid-In, as the recipe. Checkpoint selection
is by validation loss (``select: best``); ``select: last`` reproduces the reference, which in
effect always keeps the last epoch.

L-MAC FT (:class:`LmacFTJob`) starts from a trained L-MAC decoder (``init``) and adds the guidance
of ``guidance.py``; its settings are the ``lmac`` section overridden by ``lmac_ft``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from ..data.download import sha256_file
from ..errors import LmacError
from .guidance import GuidanceConfig, guide
from .lmac import LmacExplainer
from .lmac_loss import LossWeights, lmac_loss
from .trainer import ExplainerJob, ExplainerTrainer

log = logging.getLogger("lmac.explainers")

# lmac_ft keys that override the lmac section's (everything else is inherited)
FT_TRAINING_KEYS = ("epochs", "batch_size", "lr", "weight_decay", "select", "scheduler")
FT_GUIDANCE_KEYS = ("g_w", "crosscor_th", "bin_th", "crosscor")


def finetune_config(lmac_cfg: dict, ft_cfg: dict | None) -> tuple[dict, GuidanceConfig]:
    """(training settings, guidance) of L-MAC FT: ``lmac`` overridden by ``lmac_ft``'s given keys."""
    ft_cfg = ft_cfg or {}
    unknown = sorted(set(ft_cfg) - set(FT_TRAINING_KEYS) - set(FT_GUIDANCE_KEYS))
    if unknown:
        raise LmacError(
            f"lmac_ft.{unknown[0]}: unknown key (FT inherits it from lmac; "
            f"overridable: {', '.join(FT_TRAINING_KEYS + FT_GUIDANCE_KEYS)})"
        )
    cfg = {**lmac_cfg, **{k: ft_cfg[k] for k in FT_TRAINING_KEYS if ft_cfg.get(k) is not None}}
    if isinstance(ft_cfg.get("scheduler"), dict):  # key by key: lmac_ft.scheduler.enabled alone keeps the rest
        cfg["scheduler"] = {**(lmac_cfg.get("scheduler") or {}), **ft_cfg["scheduler"]}
    return cfg, GuidanceConfig.from_config({k: ft_cfg[k] for k in FT_GUIDANCE_KEYS if ft_cfg.get(k) is not None})


class LmacTrainer(ExplainerTrainer):
    """L-MAC's decoder, trained from scratch, or fine-tuned from ``job.init`` with ``job.guidance``."""

    TRAIN_KEYS = ("train_mask_mean", "train_fid_in", "train_in_masks")

    def check(self) -> None:
        init = self.job.init
        if init is not None and not Path(init).is_file():
            raise LmacError(f"{init}: trained L-MAC checkpoint not found (train L-MAC first)")
        if self.job.guidance is not None and not self.noisy:
            raise LmacError("lmac_ft: guided fine-tuning needs noisy inputs (set lmac.noise: true)")

    def build(self) -> LmacExplainer:
        cfg, init = self.job.cfg, self.job.init
        self.weights = LossWeights.from_config(cfg.get("loss", {}))
        if init is None:
            return LmacExplainer(self.classifier, cfg.get("mask_domain", "log1p"), cfg.get("frames", "pad")).to(
                self.dev
            )
        explainer = LmacExplainer.load(init, self.classifier)
        for key in ("mask_domain", "frames"):
            if cfg.get(key) is not None and cfg[key] != getattr(explainer, key):
                log.warning(
                    "%s was trained with %s=%s; fine-tuning keeps it (config says %s)",
                    init,
                    key,
                    getattr(explainer, key),
                    cfg[key],
                )
        return explainer

    def trained_module(self) -> torch.nn.Module:
        return self.explainer.decoder

    def summary(self, params: list[torch.nn.Parameter]) -> str:
        guidance = self.job.guidance
        if guidance is not None:
            log.info("guidance: %s, from %s", guidance, self.job.init)
        return (
            f"L-MAC{' FT' if guidance else ''} decoder: {sum(p.numel() for p in params) / 1e6:.2f} M parameters, "
            f"{self.weights}"
        )

    def loss(self, clean: torch.Tensor, wav: torch.Tensor) -> tuple[torch.Tensor, dict]:
        explainer, classifier, guidance = self.explainer, self.classifier, self.job.guidance
        exp = explainer(wav)
        logits_in = classifier.classify_logspec(exp.masked_in)
        logits_out = classifier.classify_logspec(exp.masked_out)
        regularise, extra = None, {}
        if guidance is not None:
            # X_clean: the pre-noise clip, the reference's preprocess(wavs_clean)
            g = guide(exp.mask, exp.masked_in, classifier.frontend.log_spectrogram(clean), guidance)
            regularise = (~g.guided).float()
            extra = {"guidance": g.loss, "in_masks": g.in_masks}
        loss, parts = lmac_loss(logits_in, logits_out, exp.target, exp.mask, self.weights, regularise)
        if guidance is not None:
            loss = loss + extra["guidance"]
            parts.update(guidance=extra["guidance"].item(), in_masks=extra["in_masks"])
        parts["fid_in"] = (logits_in.argmax(-1) == exp.target).float().mean().item()
        parts["mask_mean"] = exp.mask.mean().item()
        return loss, parts

    def own_settings(self) -> dict:
        job = self.job
        return {
            "noise": job.noise_cfg if self.noisy else None,
            "init_sha256": sha256_file(job.init) if job.init else None,
            "guidance": job.guidance.as_dict() if job.guidance else None,
        }

    def meta(self, history: list[dict]) -> dict:
        job = self.job
        meta = {
            "seed": job.seed,
            "loss": self.weights.as_dict(),
            "noise": job.noise_cfg if self.noisy else None,
            "method": "lmac_ft" if job.guidance else "lmac",
            "finetuned": job.guidance is not None,
        }
        if job.guidance is not None:
            meta.update(guidance=job.guidance.as_dict(), init=str(job.init), init_sha256=sha256_file(job.init))
        return meta


@dataclass(frozen=True, kw_only=True)
class LmacJob(ExplainerJob):
    """Train the L-MAC decoder (config section ``lmac``); with ``init`` and ``guidance``, fine-tune it."""

    SECTION = "lmac"
    TRAINER = LmacTrainer
    init: str | None = None  # a trained L-MAC checkpoint to start from
    guidance: GuidanceConfig | None = None  # L-MAC FT's guided loss (needs lmac.noise: true)


@dataclass(frozen=True, kw_only=True)
class LmacFTJob(LmacJob):
    """L-MAC FT: fine-tune the trained L-MAC decoder ``init`` with guidance; its settings are the
    ``lmac`` section overridden by ``lmac_ft`` (:func:`finetune_config`)."""

    @classmethod
    def own_fields(cls, config: dict, *, classifier_path: str, init: str) -> dict:
        cfg, guidance = finetune_config(config["lmac"], config.get("lmac_ft"))
        return {"classifier_path": classifier_path, "init": init, "cfg": cfg, "guidance": guidance}

    @classmethod
    def rule_inputs(cls, snakemake) -> dict:
        return {**super().rule_inputs(snakemake), "init": snakemake.input.init}
