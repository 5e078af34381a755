"""Train one LMAC-TD explainer (one α) on a frozen classifier.

Encoder, U, masker and decoder learn jointly from scratch, as the reference's default; with
``pretrained_encoder_decoder`` E and D start from an earlier LMAC-TD checkpoint or SpeechBrain
``encoder.ckpt``/``decoder.ckpt`` and are frozen unless ``freeze_encoder_decoder`` is false.
The class to keep is the classifier's own decision ŷ on the input — the noisy input when
``noise`` is on (the top-level ``noise`` section's source, mixed at its level, 0 dB by default,
as the reference's WHAM! augmentation). Noise is seeded by (seed, epoch, step) as in L-MAC's
trainer, so a resumed run sees the noise the uninterrupted run would have seen, and validation
sees the same noise every epoch.

Checkpoint selection is by validation loss (``select: best``); ``select: last`` keeps the last
epoch, as the reference's recipe in effect does. The work directory makes the run resumable;
``epochs`` (and the α list) are left out of its fingerprint, so asking for more epochs continues
a finished shorter run.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import torch

from ..classifier.model import load_classifier
from ..data.batches import split
from ..data.download import sha256_file
from ..data.noise import describe, mix
from ..data.noise import noise_source as build_noise_source
from ..data.prepare import load_prepared
from ..errors import LmacError
from ..io import write_csv
from ..training import LoopSpec, pick_device, run_training, seed_everything
from .lmac_td import LmacTDExplainer, TDOutput, build_lmac_td
from .lmac_td_loss import TDLossWeights, lmac_td_loss
from .lmac_td_presets import DEFAULT_PRESET
from .loss_steps import LossSteps
from .registry import td_method
from .train_lmac import DelayedPlateau

log = logging.getLogger("lmac.explainers")

#: keys that do not change what one run computes (``alphas`` lists the runs; ``epochs`` may grow)
NOT_FINGERPRINTED = ("epochs", "alphas")


def build_from_config(classifier, cfg: dict, alpha: float) -> LmacTDExplainer:
    """The untrained explainer an ``lmac_td`` config section describes, for one α."""
    explainer = build_lmac_td(
        classifier, cfg.get("scale") or {}, cfg.get("preset") or DEFAULT_PRESET, alpha, cfg.get("feature_n_fft")
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


def train_lmac_td(
    prepared_dir: str,
    classifier_path: str,
    out_model: str,
    out_history: str,
    work_dir: str,
    cfg: dict,
    alpha: float,
    seed: int,
    device: str = "auto",
    noise_source=None,
    *,
    noise_cfg: dict | None = None,
) -> None:
    """Train and export one LMAC-TD model for mixing weight ``alpha``.

    With ``cfg["noise"]`` true, inputs are mixed with ``noise_source`` (an object with
    ``sample(length, generator)``, e.g. :func:`lmac.data.noise.noise_source`'s GeneratedNoise or
    WHAM! folder), built from ``noise_cfg`` (the top-level ``noise`` section) when not given;
    ``noise_cfg`` also sets the level (``snr_db``, 0) and peak normalisation (``peak``, abs).
    """
    seed_everything(seed)
    dev = pick_device(device)
    noisy = cfg.get("noise", False)
    if not isinstance(noisy, bool):
        raise LmacError(f"lmac_td.noise: {noisy!r} must be true or false (the source is the top-level 'noise' section)")
    audio, manifest, _ = load_prepared(prepared_dir)
    train, valid = split(audio, manifest, "train"), split(audio, manifest, "valid")
    classifier = load_classifier(classifier_path, dev)
    explainer = build_from_config(classifier, cfg, alpha).to(dev)
    weights = TDLossWeights.from_config(cfg.get("preset") or DEFAULT_PRESET, cfg.get("loss"))
    frontend = explainer.feature_frontend
    if frontend.cfg.n_fft != classifier.frontend.cfg.n_fft:
        log.warning(
            "LMAC-TD feeds the classifier n_fft-%d features; it was trained with n_fft %d "
            "(reproduces PR #2838's front end)",
            frontend.cfg.n_fft,
            classifier.frontend.cfg.n_fft,
        )
    noise_cfg = noise_cfg or {}
    if noisy and noise_source is None:
        noise_source = build_noise_source(noise_cfg, None, classifier.frontend.cfg.sample_rate, seed)
    snr_db, peak = float(noise_cfg.get("snr_db", 0.0)), noise_cfg.get("peak", "abs")
    params = [p for p in explainer.parameters() if p.requires_grad]
    log.info(
        "LMAC-TD α=%g: %.3f M trainable parameters, %s, loss %s, %d train / %d valid clips, noise %s, device %s",
        alpha,
        sum(p.numel() for p in params) / 1e6,
        explainer.arch,
        weights,
        len(train),
        len(valid),
        noise_source if noisy else "off",
        dev,
    )
    opt = torch.optim.Adam(params, lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    sched_cfg = cfg.get("scheduler") or {}
    scheduler = (
        DelayedPlateau(
            opt,
            start_epoch=int(sched_cfg.get("start_epoch", 0)),
            factor=sched_cfg.get("factor", 0.5),
            patience=sched_cfg.get("patience", 3),
        )
        if sched_cfg.get("enabled", False)
        else None
    )
    bs = cfg["batch_size"]

    def step_loss(wav: torch.Tensor, generator: torch.Generator | None) -> tuple[torch.Tensor, dict]:
        wav = wav.to(dev)
        if generator is not None:
            noise = torch.stack([noise_source.sample(wav.shape[1], generator) for _ in range(wav.shape[0])])
            wav = mix(wav, noise.to(wav), snr_db, peak)
        return training_loss(explainer, wav, weights)

    steps = LossSteps(step_loss, opt, valid, bs, seed, noisy)

    classifier.eval()
    settings = {
        "cfg": {k: v for k, v in cfg.items() if k not in NOT_FINGERPRINTED},
        "alpha": float(alpha),
        "seed": seed,
        "classifier": classifier.config(),
        "prepared": prepared_dir,
        "classifier_sha256": sha256_file(classifier_path),
        # the pre-trained encoder/decoder's content, not only its path (a rerun pre-training rewrites it)
        "encoder_decoder_sha256": (
            sha256_file(cfg["pretrained_encoder_decoder"])
            if Path(cfg.get("pretrained_encoder_decoder") or "").is_file()
            else None
        ),
        "noise": {"cfg": noise_cfg, "source": describe(noise_source)} if noisy else None,
    }
    state, history = run_training(
        module=explainer,
        optimizer=opt,
        train_batches=lambda ep: ((ep, i, batch) for i, batch in enumerate(train.batches(bs, True, seed, ep))),
        steps_per_epoch=train.n_batches(bs),
        train_step=steps.train_step,
        validate=steps.validate,
        spec=LoopSpec(cfg["epochs"], monitor="valid_loss", mode="min", select=cfg.get("select", "best")),
        work_dir=work_dir,
        settings=settings,
        scheduler=scheduler,
    )
    explainer.load_state_dict(state)
    write_csv(out_history, pd.DataFrame(history))
    explainer.save(
        out_model,
        meta={
            "seed": seed,
            "method": td_method(alpha),
            "loss": weights.__dict__,
            "noise": noise_cfg if noisy else None,
            "epochs": len(history),
            "select": cfg.get("select", "best"),
        },
    )
