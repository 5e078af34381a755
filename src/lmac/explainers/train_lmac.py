"""Train the L-MAC decoder on a frozen classifier, and fine-tune it with guidance (L-MAC FT).

Only the decoder learns; the class to keep is the classifier's own decision ŷ on the input.
As the paper, inputs can be mixed with background noise at 0 dB in training *and* validation
(``lmac.noise: true``; the source is the top-level ``noise`` section: generated offline, or
WHAM! ``tr/``). The noise each training batch gets is seeded by (seed, epoch, step), so a resumed
run sees exactly the noise the uninterrupted run would have seen; validation gets the same noise
every epoch, so epochs are comparable.

Optimiser and schedule follow the recipe (Adam, ReduceLROnPlateau with factor 0.5, patience 3,
not before ``start_epoch``: SpeechBrain's ``dont_halve_until_epoch``); the plateau is watched on
the validation loss (the recipe watches −Fid-In on the validation fold). Checkpoint selection
is by validation loss (``select: best``); ``select: last`` reproduces the reference, which in
effect always keeps the last epoch.

L-MAC FT (``train_lmac_ft``) starts from a trained L-MAC decoder (``init``) and adds the guidance
of ``guidance.py``; its settings are the ``lmac`` section overridden by ``lmac_ft``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import torch

from ..classifier.model import load_classifier
from ..data.batches import split
from ..data.download import sha256_file
from ..data.noise import mix, noise_source
from ..data.prepare import load_prepared
from ..errors import LmacError
from ..io import write_csv
from ..training import LoopSpec, pick_device, run_training, seed_everything
from .guidance import GuidanceConfig, guide
from .lmac import LmacExplainer
from .lmac_loss import LossWeights, lmac_loss
from .loss_steps import LossSteps

log = logging.getLogger("lmac.explainers")

# lmac_ft keys that override the lmac section's (everything else is inherited)
FT_TRAINING_KEYS = ("epochs", "batch_size", "lr", "weight_decay", "select", "scheduler")
FT_GUIDANCE_KEYS = ("g_w", "crosscor_th", "bin_th", "crosscor")


class DelayedPlateau(torch.optim.lr_scheduler.ReduceLROnPlateau):
    """ReduceLROnPlateau that starts watching only after ``start_epoch`` epochs.

    SpeechBrain's scheduler (``dont_halve_until_epoch: 100`` in the recipe) keeps the learning
    rate and moves its anchor to the latest score until then; so does this one.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, start_epoch: int = 0, **kwargs):
        super().__init__(optimizer, **kwargs)
        self.start_epoch = start_epoch

    def step(self, metrics, epoch=None) -> None:  # type: ignore[override]
        if self.last_epoch < self.start_epoch:
            self.last_epoch += 1
            self.best, self.num_bad_epochs = float(metrics), 0
            return
        super().step(metrics)


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


def _build_scheduler(opt: torch.optim.Optimizer, sched_cfg: dict | None) -> DelayedPlateau | None:
    sched_cfg = sched_cfg or {}
    if not sched_cfg.get("enabled", False):
        return None
    return DelayedPlateau(
        opt,
        start_epoch=int(sched_cfg.get("start_epoch", 0)),
        factor=sched_cfg.get("factor", 0.5),
        patience=sched_cfg.get("patience", 3),
    )


def _noise_enabled(cfg: dict) -> bool:
    value = cfg.get("noise", False)
    if not isinstance(value, bool):
        raise LmacError(f"lmac.noise: {value!r} must be true or false (the source is the top-level 'noise' section)")
    return value


def train_lmac(
    prepared_dir: str,
    classifier_path: str,
    out_model: str,
    out_history: str,
    work_dir: str,
    cfg: dict,
    seed: int,
    device: str = "auto",
    *,
    noise_cfg: dict | None = None,
    wham_dir: str | None = None,
    init: str | None = None,
    guidance: GuidanceConfig | None = None,
) -> None:
    """Train (``init`` None) or fine-tune (``init`` a trained L-MAC checkpoint) the L-MAC decoder.

    ``noise_cfg`` is the top-level ``noise`` section ({source, snr_db, peak}); ``wham_dir`` the
    extracted WHAM! folder when its source is ``wham``. ``guidance`` turns on L-MAC FT's guided
    loss, which needs noisy inputs (``cfg["noise"]`` true).
    """
    seed_everything(seed)
    dev = pick_device(device)
    noisy = _noise_enabled(cfg)
    if guidance is not None and not noisy:
        raise LmacError("lmac_ft: guided fine-tuning needs noisy inputs (set lmac.noise: true)")
    audio, manifest, _ = load_prepared(prepared_dir)
    train, valid = split(audio, manifest, "train"), split(audio, manifest, "valid")
    classifier = load_classifier(classifier_path, dev)
    sample_rate = classifier.frontend.cfg.sample_rate
    if init is None:
        explainer = LmacExplainer(classifier, cfg.get("mask_domain", "log1p"), cfg.get("frames", "pad")).to(dev)
    else:
        explainer = LmacExplainer.load(init, classifier)
        for key in ("mask_domain", "frames"):
            if cfg.get(key) is not None and cfg[key] != getattr(explainer, key):
                log.warning(
                    "%s was trained with %s=%s; fine-tuning keeps it (config says %s)",
                    init,
                    key,
                    getattr(explainer, key),
                    cfg[key],
                )
    weights = LossWeights.from_config(cfg.get("loss", {}))
    noise_cfg = noise_cfg or {}
    source = noise_source(noise_cfg, wham_dir, sample_rate, seed) if noisy else None
    snr_db, peak = float(noise_cfg.get("snr_db", 0.0)), noise_cfg.get("peak", "abs")
    log.info(
        "L-MAC%s decoder: %.2f M parameters, %s, %d train / %d valid clips, noise %s, device %s",
        " FT" if guidance else "",
        sum(p.numel() for p in explainer.decoder.parameters()) / 1e6,
        weights,
        len(train),
        len(valid),
        source if noisy else "off",
        dev,
    )
    if guidance is not None:
        log.info("guidance: %s, from %s", guidance, init)
    opt = torch.optim.Adam(explainer.decoder.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    scheduler = _build_scheduler(opt, cfg.get("scheduler"))
    bs = cfg["batch_size"]
    frontend = classifier.frontend

    def noisy_input(clean: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        noise = torch.stack([source.sample(clean.shape[1], generator) for _ in range(clean.shape[0])])
        return mix(clean, noise.to(clean), snr_db, peak)

    def step_loss(clean: torch.Tensor, generator: torch.Generator | None) -> tuple[torch.Tensor, dict]:
        clean = clean.to(dev)
        wav = noisy_input(clean, generator) if generator is not None else clean
        exp = explainer(wav)
        logits_in = classifier.classify_logspec(exp.masked_in)
        logits_out = classifier.classify_logspec(exp.masked_out)
        regularise, extra = None, {}
        if guidance is not None:
            # X_clean: the pre-noise clip, the reference's preprocess(wavs_clean)
            g = guide(exp.mask, exp.masked_in, frontend.log_spectrogram(clean), guidance)
            regularise = (~g.guided).float()
            extra = {"guidance": g.loss, "in_masks": g.in_masks}
        loss, parts = lmac_loss(logits_in, logits_out, exp.target, exp.mask, weights, regularise)
        if guidance is not None:
            loss = loss + extra["guidance"]
            parts.update(guidance=extra["guidance"].item(), in_masks=extra["in_masks"])
        parts["fid_in"] = (logits_in.argmax(-1) == exp.target).float().mean().item()
        parts["mask_mean"] = exp.mask.mean().item()
        return loss, parts

    steps = LossSteps(
        step_loss, opt, valid, bs, seed, noisy, train_keys=("train_mask_mean", "train_fid_in", "train_in_masks")
    )

    classifier.eval()
    settings = {
        "cfg": cfg,
        "seed": seed,
        "classifier": classifier.config(),
        "prepared": prepared_dir,
        "classifier_sha256": sha256_file(classifier_path),
        "noise": noise_cfg if noisy else None,
        "init_sha256": sha256_file(init) if init else None,
        "guidance": guidance.as_dict() if guidance else None,
    }
    state, history = run_training(
        module=explainer.decoder,
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
    explainer.decoder.load_state_dict(state)
    write_csv(out_history, pd.DataFrame(history))
    meta = {
        "seed": seed,
        "loss": weights.as_dict(),
        "noise": noise_cfg if noisy else None,
        "method": "lmac_ft" if guidance else "lmac",
        "finetuned": guidance is not None,
    }
    if guidance is not None:
        meta.update(guidance=guidance.as_dict(), init=str(init), init_sha256=settings["init_sha256"])
    explainer.save(out_model, meta=meta)


def train_lmac_ft(
    prepared_dir: str,
    classifier_path: str,
    init_model: str,
    out_model: str,
    out_history: str,
    work_dir: str,
    lmac_cfg: dict,
    ft_cfg: dict | None,
    seed: int,
    device: str = "auto",
    *,
    noise_cfg: dict | None = None,
    wham_dir: str | None = None,
) -> None:
    """L-MAC FT: fine-tune the L-MAC decoder in ``init_model`` with guidance (:mod:`.guidance`)."""
    if not Path(init_model).is_file():
        raise LmacError(f"{init_model}: trained L-MAC checkpoint not found (train L-MAC first)")
    cfg, guidance = finetune_config(lmac_cfg, ft_cfg)
    train_lmac(
        prepared_dir,
        classifier_path,
        out_model,
        out_history,
        work_dir,
        cfg,
        seed,
        device,
        noise_cfg=noise_cfg,
        wham_dir=wham_dir,
        init=init_model,
        guidance=guidance,
    )
