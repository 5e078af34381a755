"""What training any learned explainer on a frozen classifier takes; L-MAC and LMAC-TD fill in the rest.

Set-up (seed, device, data, classifier), the training noise, the optimiser and its plateau
schedule, the loop (:func:`lmac.training.run_training` with :class:`~.loss_steps.LossSteps`), the
provenance that guards a resume and the export are the same for every explainer; a subclass of
:class:`ExplainerTrainer` says what it builds, which of its parameters learn, its objective on one
batch, and what its settings and checkpoint record.

Noise (``<section>.noise: true``; the source is the top-level ``noise`` section's, mixed at its
``snr_db``, 0 dB by default, with its ``peak``) is mixed into training *and* validation inputs;
what each batch gets is seeded by (seed, epoch, step), so a resumed run sees the noise the
uninterrupted run would have seen, and validation sees the same noise every epoch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd
import torch

from ..classifier.model import AudioClassifier, load_classifier
from ..data.batches import split
from ..data.download import sha256_file
from ..data.noise import mixed
from ..data.prepare import load_prepared
from ..errors import LmacError
from ..io import write_csv
from ..jobs import TrainingJob
from ..training import LoopSpec, pick_device, run_training, seed_everything
from .loss_steps import LossSteps

log = logging.getLogger("lmac.explainers")


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


PLATEAU_MONITORS = ("loss", "fidelity")


def plateau_watch(sched_cfg: dict | None, fidelity_key: str) -> tuple[str, str] | None:
    """What the plateau watches: None for the validation loss (``monitor: loss``, lmac's default), or the
    validation fidelity ``fidelity_key``, maximised (``monitor: fidelity``: the reference's −Fid-In)."""
    monitor = (sched_cfg or {}).get("monitor", "loss")
    if monitor not in PLATEAU_MONITORS:
        raise LmacError(f"scheduler.monitor: unknown value '{monitor}' (loss or fidelity)")
    return (fidelity_key, "max") if monitor == "fidelity" else None


def plateau_scheduler(opt: torch.optim.Optimizer, sched_cfg: dict | None, mode: str = "min") -> DelayedPlateau | None:
    """The recipe's plateau schedule (``scheduler: {enabled, factor, patience, start_epoch}``) for a score to
    minimise or maximise (``mode``); None when off."""
    sched_cfg = sched_cfg or {}
    if not sched_cfg.get("enabled", False):
        return None
    return DelayedPlateau(
        opt,
        mode=mode,
        start_epoch=int(sched_cfg.get("start_epoch", 0)),
        factor=sched_cfg.get("factor", 0.5),
        patience=sched_cfg.get("patience", 3),
    )


def noise_level(noise_cfg: dict) -> tuple[float, str]:
    """(SNR in dB, peak normalisation) of the top-level ``noise`` section."""
    return float(noise_cfg.get("snr_db", 0.0)), noise_cfg.get("peak", "abs")


def noise_enabled(cfg: dict, section: str) -> bool:
    value = cfg.get("noise", False)
    if not isinstance(value, bool):
        raise LmacError(
            f"{section}.noise: {value!r} must be true or false (the source is the top-level 'noise' section)"
        )
    return value


@dataclass(frozen=True, kw_only=True)
class ExplainerJob(TrainingJob):
    """Train one learned explainer of the frozen classifier in ``classifier_path``."""

    TRAINER = None  # the ExplainerTrainer subclass that runs the job
    classifier_path: str

    @classmethod
    def rule_inputs(cls, snakemake) -> dict:
        return {"classifier_path": snakemake.input.classifier}

    def run(self) -> None:
        self.TRAINER(self).train()


class ExplainerTrainer:
    """One training of an explainer: the shared steps, with hooks for what differs (module docstring).

    Hooks: :meth:`check` (before anything is loaded), :meth:`build` (the explainer, from the loaded
    classifier), :meth:`trained_module`, :meth:`parameters`, :meth:`summary` (the log line's head),
    :meth:`loss`, :meth:`own_settings`, :meth:`meta`; ``TRAIN_KEYS`` names the training-batch parts
    reported in the history (None: all).
    """

    TRAIN_KEYS: tuple[str, ...] | None = None
    #: the validation score ``scheduler.monitor: fidelity`` watches (the classifier's decision kept)
    FIDELITY_KEY = "valid_fid_in"

    def __init__(self, job: ExplainerJob):
        self.job = job
        seed_everything(job.seed)
        self.dev = pick_device(job.device)
        self.noisy = noise_enabled(job.cfg, job.SECTION)
        self.check()
        audio, manifest, _ = load_prepared(job.prepared_dir)
        self.train_data, self.valid = split(audio, manifest, "train"), split(audio, manifest, "valid")
        self.classifier: AudioClassifier = load_classifier(job.classifier_path, self.dev)
        self.explainer = self.build()
        job.compute.compiled(self.classifier.net, self.trained_module())
        self.source = job.noise(self.classifier.frontend.cfg.sample_rate) if self.noisy else None
        self.snr_db, self.peak = noise_level(job.noise_cfg)

    # hooks

    def check(self) -> None:
        """Refuse a job that cannot run, before the data and the classifier are loaded."""

    def build(self) -> torch.nn.Module:
        raise NotImplementedError

    def trained_module(self) -> torch.nn.Module:
        """The part of the explainer that learns, checkpointed by the loop."""
        return self.explainer

    def parameters(self) -> list[torch.nn.Parameter]:
        return [p for p in self.trained_module().parameters() if p.requires_grad]

    def summary(self, params: list[torch.nn.Parameter]) -> str:
        raise NotImplementedError

    def loss(self, clean: torch.Tensor, wav: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """The objective on one batch: ``wav`` the explained input (noisy or clean), ``clean`` before the noise."""
        raise NotImplementedError

    def own_settings(self) -> dict:
        """What the weights depend on beyond the common settings (a work folder of other ones is not resumed)."""
        return {}

    def meta(self, history: list[dict]) -> dict:
        raise NotImplementedError

    # the shared steps

    def step_loss(self, clean: torch.Tensor, generator: torch.Generator | None) -> tuple[torch.Tensor, dict]:
        clean = self.job.compute.to(clean, self.dev)
        wav = mixed(self.source, clean, generator, self.snr_db, self.peak) if generator is not None else clean
        return self.loss(clean, wav)

    def settings(self) -> dict:
        job = self.job
        return {
            "cfg": job.cfg,
            "seed": job.seed,
            "classifier": self.classifier.config(),
            "prepared": job.prepared_dir,
            "classifier_sha256": sha256_file(job.classifier_path),
            **self.own_settings(),
        }

    def train(self) -> None:
        job, cfg = self.job, self.job.cfg
        params = self.parameters()
        log.info(
            "%s, %d train / %d valid clips, noise %s, device %s",
            self.summary(params),
            len(self.train_data),
            len(self.valid),
            self.source if self.noisy else "off",
            self.dev,
        )
        opt = torch.optim.Adam(params, lr=cfg["lr"], weight_decay=cfg["weight_decay"])
        plateau = plateau_watch(cfg.get("scheduler"), self.FIDELITY_KEY)
        scheduler = plateau_scheduler(opt, cfg.get("scheduler"), plateau[1] if plateau else "min")
        bs, train = cfg["batch_size"], self.train_data
        steps = LossSteps(
            self.step_loss,
            opt,
            self.valid,
            bs,
            job.seed,
            self.noisy,
            self.TRAIN_KEYS,
            lambda: job.compute.autocast(self.dev),
        )
        self.classifier.eval()
        state, history = run_training(
            module=self.trained_module(),
            optimizer=opt,
            train_batches=lambda ep: ((ep, i, batch) for i, batch in enumerate(train.batches(bs, True, job.seed, ep))),
            steps_per_epoch=train.n_batches(bs),
            train_step=steps.train_step,
            validate=steps.validate,
            spec=LoopSpec(
                cfg["epochs"],
                monitor="valid_loss",
                mode="min",
                select=cfg.get("select", "best"),
                plateau=plateau,
            ),
            work_dir=job.outputs.work,
            settings=self.settings(),
            scheduler=scheduler,
            compute=job.compute,
            device=self.dev,
        )
        self.trained_module().load_state_dict(state)
        write_csv(job.outputs.history, pd.DataFrame(history))
        self.explainer.save(job.outputs.model, meta=self.meta(history))
