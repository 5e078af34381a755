"""Pre-train LMAC-TD's encoder E and decoder D as an autoencoder of the training audio.

LMAC-TD's explanation is i = D(E(x) ⊙ M): it is a part of the input one can listen to only if
D(E(x)) resynthesises x. The reference trains E and D jointly with the masker from scratch by
default, with nothing asking D(E(x)) to equal x (its SI-SNR consistency weight is 0), and offers a
``pretrained_ed_path`` to load a pre-trained pair and freeze it. At the embedded scale, trained
jointly for a few CPU epochs, the pair does not learn to resynthesise (SI-SNR of D(E(x)) to x
≈ −9 dB), so the "listenable" explanation is not a part of the input.

This step is that pretrained pair, learned here: E (Conv1d + ReLU) and D (ConvTranspose1d) of the
configured size minimise −SI-SNR(D(E(x)), x) on short random crops of the training clips, half of
them mixed with the training noise when LMAC-TD trains on noisy inputs, so the pair is fitted to
what the explainer will see. One pair serves every α and seed (it does not depend on the
classifier). The LMAC-TD trainer loads it and, by default, freezes it
(``lmac_td.encoder_decoder``: ``pretrain: false`` restores the reference's joint training from
scratch). Validation reports the SI-SNR of D(E(x)) to x on whole validation clips, clean and
noisy; the best epoch by that score is kept.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
import torch.nn as nn
from speechbrain.lobes.models.dual_path import Decoder, Encoder

from ..checkpoints import save_checkpoint
from ..data.batches import Split, split
from ..data.noise import describe, mixed
from ..data.prepare import load_prepared
from ..errors import LmacError
from ..io import write_csv
from ..jobs import TrainingJob
from ..training import LoopSpec, pick_device, run_training, seed_everything
from .lmac_td_loss import si_snr
from .lmac_td_presets import DEFAULT_PRESET, TDArch, resolve_arch
from .loss_steps import stream_seed
from .trainer import noise_level

log = logging.getLogger("lmac.explainers")

KIND = "lmac_td_ed"
#: the schema defaults of ``lmac_td.encoder_decoder``
DEFAULTS = {"pretrain": False, "epochs": 8, "steps_per_epoch": 100, "batch_size": 16, "crop_seconds": 0.25, "lr": 0.01}


class EncoderDecoder(nn.Module):
    """E and D of an LMAC-TD network, with its parameter names (``encoder.*``, ``decoder.*``)."""

    def __init__(self, arch: TDArch):
        super().__init__()
        self.arch = arch
        self.encoder = Encoder(kernel_size=arch.kernel_size, out_channels=arch.n_filters)
        self.decoder = Decoder(
            in_channels=arch.n_filters, out_channels=1, kernel_size=arch.kernel_size, stride=arch.stride, bias=False
        )

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """D(E(x)), cropped or zero-padded to the input's length, [B, L]."""
        out = self.decoder(self.encoder(wav)).reshape(wav.shape[0], -1)[:, : wav.shape[1]]
        return nn.functional.pad(out, (0, wav.shape[1] - out.shape[1]))


def settings(cfg: dict) -> dict:
    """``lmac_td.encoder_decoder`` with the defaults filled in, checked."""
    ed = {**DEFAULTS, **(cfg.get("encoder_decoder") or {})}
    for key in ("epochs", "steps_per_epoch", "batch_size"):
        if not isinstance(ed[key], int) or isinstance(ed[key], bool) or ed[key] < 1:
            raise LmacError(f"lmac_td.encoder_decoder.{key}: must be a positive integer, got {ed[key]!r}")
    for key in ("crop_seconds", "lr"):
        if not isinstance(ed[key], (int, float)) or ed[key] <= 0:
            raise LmacError(f"lmac_td.encoder_decoder.{key}: must be a positive number, got {ed[key]!r}")
    return ed


def crops(data: Split, ed: dict, crop: int, seed: int, epoch: int):
    """The epoch's training batches: ``steps_per_epoch`` batches of random crops, seeded by (seed, epoch)."""
    g = torch.Generator().manual_seed(stream_seed(seed, "ed_crops", epoch))
    for step in range(ed["steps_per_epoch"]):
        pick = torch.randint(len(data), (ed["batch_size"],), generator=g).numpy()
        wav = torch.from_numpy(data.audio[data.rows[pick]])
        start = torch.randint(wav.shape[1] - crop + 1, (len(pick),), generator=g)
        yield epoch, step, torch.stack([w[s : s + crop] for w, s in zip(wav, start.tolist())])


@dataclass(frozen=True, kw_only=True)
class AutoencoderJob(TrainingJob):
    """Pre-train E and D of the ``lmac_td`` config's size on the training audio (``sample_rate``: the
    dataset's); noisy when ``lmac_td.noise`` is true or a ``noise_source`` is given."""

    SECTION = "lmac_td"
    sample_rate: int = 16000

    @classmethod
    def own_fields(cls, config: dict) -> dict:
        return {"sample_rate": config["dataset"]["sample_rate"]}

    def run(self) -> None:
        pretrain_encoder_decoder(self)


def pretrain_encoder_decoder(job: AutoencoderJob) -> None:
    """Fit E and D of the ``lmac_td`` config's size to resynthesise the training audio; export them."""
    cfg, seed, sample_rate = job.cfg, job.seed, job.sample_rate
    noise_source = job.noise(sample_rate) if job.cfg.get("noise") else job.noise_source
    seed_everything(seed)
    dev = pick_device(job.device)
    ed = settings(cfg)
    audio, manifest, _ = load_prepared(job.prepared_dir)
    train, valid = split(audio, manifest, "train"), split(audio, manifest, "valid")
    arch = resolve_arch(cfg.get("preset") or DEFAULT_PRESET, cfg.get("scale"))
    crop = max(arch.kernel_size, int(round(ed["crop_seconds"] * sample_rate)))
    if crop > train.audio.shape[1]:
        raise LmacError(f"lmac_td.encoder_decoder.crop_seconds: {ed['crop_seconds']} s is longer than the clips")
    model = EncoderDecoder(arch).to(dev)
    job.compute.compiled(model)
    noise_cfg = job.noise_cfg
    snr_db, peak = noise_level(noise_cfg)
    opt = torch.optim.Adam(model.parameters(), lr=ed["lr"])
    log.info(
        "LMAC-TD encoder/decoder pre-training: N %d, kernel %d, %d crops of %d samples per step, "
        "%d steps x %d epochs, noise %s, device %s",
        arch.n_filters,
        arch.kernel_size,
        ed["batch_size"],
        crop,
        ed["steps_per_epoch"],
        ed["epochs"],
        noise_source if noise_source is not None else "off",
        dev,
    )

    def noisy(wav: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        return mixed(noise_source, wav, g, snr_db, peak)

    def train_step(item) -> float:
        epoch, step, wav = item
        wav = job.compute.to(wav, dev)
        half = wav.shape[0] // 2
        if noise_source is not None and half:  # half of each batch mixed with noise: the explainer sees both
            g = torch.Generator().manual_seed(stream_seed(seed, "ed_noise", epoch, step))
            wav = torch.cat([noisy(wav[:half].cpu(), g).to(dev), wav[half:]])
        with job.compute.autocast(dev):  # SI-SNR in fp32: its energy ratios lose too much in bf16
            loss = -si_snr(model(wav).float(), wav).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    def validate() -> dict:
        clean, mixed = [], []
        for b, (wav, _, _) in enumerate(valid.batches(ed["batch_size"])):
            clean.append(si_snr(model(wav.to(dev)).float(), wav.to(dev)))
            if noise_source is not None:
                x = noisy(wav, torch.Generator().manual_seed(stream_seed(seed, "ed_valid", b))).to(dev)
                mixed.append(si_snr(model(x).float(), x))
        scores = {
            "valid_sisnr": torch.cat(clean + mixed).mean().item(),
            "valid_sisnr_clean": torch.cat(clean).mean().item(),
        }
        if mixed:
            scores["valid_sisnr_noisy"] = torch.cat(mixed).mean().item()
        return scores

    # what the weights depend on: a work folder left by other data, crops or noise is not resumed
    prepared = Path(job.prepared_dir) / "prepare.json"
    run_settings = {
        "ed": {k: v for k, v in ed.items() if k != "epochs"},
        "arch": arch.to_dict(),
        "seed": seed,
        "prepared": job.prepared_dir,
        "crop_samples": crop,
        "audio_sha256": json.loads(prepared.read_text()).get("audio_sha256") if prepared.exists() else None,
        "noise": {"cfg": noise_cfg, "source": describe(noise_source)} if noise_source is not None else None,
    }
    state, history = run_training(
        module=model,
        optimizer=opt,
        train_batches=lambda ep: crops(train, ed, crop, seed, ep),
        steps_per_epoch=ed["steps_per_epoch"],
        train_step=train_step,
        validate=validate,
        spec=LoopSpec(ed["epochs"], monitor="valid_sisnr", mode="max"),
        work_dir=job.outputs.work,
        settings=run_settings,
        compute=job.compute,
        device=dev,
    )
    model.load_state_dict(state)
    write_csv(job.outputs.history, pd.DataFrame(history))
    best = max(row["valid_sisnr"] for row in history)
    save_checkpoint(
        job.outputs.model,
        KIND,
        {"arch": arch.to_dict()},
        model.state_dict(),
        {"seed": seed, "valid_sisnr": best, "epochs": len(history)},
    )
    log.info("encoder/decoder: SI-SNR of D(E(x)) to x on the validation clips %.1f dB", best)
