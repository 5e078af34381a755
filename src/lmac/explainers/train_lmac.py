"""Train the L-MAC decoder on a frozen classifier.

Only the decoder learns; the class to keep is the classifier's own decision ŷ on the input.
Checkpoint selection is by validation loss (``select: best``); ``select: last`` reproduces the
reference, which in effect always keeps the last epoch.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch

from ..classifier.model import load_classifier
from ..data.batches import split
from ..data.noise import GeneratedNoise, mix
from ..data.prepare import load_prepared
from ..io import write_csv
from ..training import LoopSpec, pick_device, run_training, seed_everything
from .lmac import LmacExplainer
from .lmac_loss import LossWeights, lmac_loss

log = logging.getLogger("lmac.explainers")


def train_lmac(prepared_dir: str, classifier_path: str, out_model: str, out_history: str,
               work_dir: str, cfg: dict, seed: int, device: str = "auto") -> None:
    seed_everything(seed)
    dev = pick_device(device)
    audio, manifest, _ = load_prepared(prepared_dir)
    train, valid = split(audio, manifest, "train"), split(audio, manifest, "valid")
    classifier = load_classifier(classifier_path, dev)
    explainer = LmacExplainer(classifier, cfg.get("mask_domain", "log1p"), cfg.get("frames", "pad")).to(dev)
    weights = LossWeights.from_config(cfg.get("loss", {}))
    log.info("L-MAC decoder: %.2f M parameters, loss %s, %d train / %d valid clips, device %s",
             sum(p.numel() for p in explainer.decoder.parameters()) / 1e6, weights, len(train), len(valid), dev)
    opt = torch.optim.Adam(explainer.decoder.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    sched_cfg = cfg.get("scheduler") or {}
    scheduler = (torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=sched_cfg.get("factor", 0.5),
                                                            patience=sched_cfg.get("patience", 3))
                 if sched_cfg.get("enabled", False) else None)
    noise_cfg = cfg.get("noise", {}) or {}
    noise = GeneratedNoise(seed + 2, classifier.frontend.cfg.sample_rate) if noise_cfg.get("enabled") else None
    valid_noise = GeneratedNoise(seed + 3, classifier.frontend.cfg.sample_rate) if noise else None
    bs = cfg["batch_size"]

    def step_loss(wav: torch.Tensor, source: GeneratedNoise | None) -> tuple[torch.Tensor, dict]:
        if source is not None:
            wav = mix(wav, source.draw(wav.shape[0], wav.shape[1]), noise_cfg.get("snr_db", 0.0))
        exp = explainer(wav.to(dev))
        logits_in = classifier.classify_logspec(exp.masked_in)
        logits_out = classifier.classify_logspec(exp.masked_out)
        loss, parts = lmac_loss(logits_in, logits_out, exp.target, exp.mask, weights)
        parts["fid_in"] = (logits_in.argmax(-1) == exp.target).float().mean().item()
        parts["mask_mean"] = exp.mask.mean().item()
        return loss, parts

    def train_step(batch) -> float:
        loss, _ = step_loss(batch[0], noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    def validate() -> dict:
        if valid_noise is not None:  # the same noise every validation, so epochs are comparable
            valid_noise.generator.manual_seed(seed + 3)
        rows = []
        for wav, _, _ in valid.batches(bs):
            loss, parts = step_loss(wav, valid_noise)
            rows.append({"valid_loss": loss.item(), **{f"valid_{k}": v for k, v in parts.items()}, "n": len(wav)})
        frame = pd.DataFrame(rows)
        return {k: float(np.average(frame[k], weights=frame["n"])) for k in frame.columns if k != "n"}

    classifier.eval()
    settings = {"cfg": cfg, "seed": seed, "classifier": classifier.config(), "prepared": prepared_dir}
    state, history = run_training(
        module=explainer.decoder, optimizer=opt, train_batches=lambda ep: train.batches(bs, True, seed, ep),
        steps_per_epoch=train.n_batches(bs), train_step=train_step, validate=validate,
        spec=LoopSpec(cfg["epochs"], monitor="valid_loss", mode="min", select=cfg.get("select", "best")),
        work_dir=work_dir, settings=settings, scheduler=scheduler)
    explainer.decoder.load_state_dict(state)
    write_csv(out_history, pd.DataFrame(history))
    explainer.save(out_model, meta={"seed": seed, "loss": weights.__dict__})
