"""Fine-tune (or train from scratch) the CNN14 classifier on a prepared dataset.

As the reference classification recipe: Adam, plain cross-entropy, optional 0 dB noise mixing
from the top-level ``noise`` source (the paper-era classifier was trained with WHAM! mixed in),
an optional cyclic learning rate (``classifier.scheduler``, SpeechBrain's ``CyclicLRScheduler`` as
the recipe configures it), and the checkpoint with the best validation accuracy is exported to a
stable path. Initialisation from a checkpoint given by path:
an lmac classifier, or SpeechBrain's ``embedding_model.ckpt`` (+ optional ``classifier.ckpt``
head, used only when its class count matches). ``permute_labels: true`` in ``cfg`` (set by the
data-randomisation sanity check, not a config key) trains on a seeded permutation of the
training labels; ``metrics.json`` then also reports the accuracy on those permuted labels.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ..checkpoints import load_torch_file, load_weights
from ..data.batches import split
from ..data.noise import mix, mixed
from ..data.prepare import load_prepared
from ..errors import LmacError
from ..explainers.loss_steps import stream_seed
from ..frontend import FrontEndConfig
from ..io import write_csv, write_json
from ..jobs import TrainingJob
from ..training import LoopSpec, pick_device, run_training, seed_everything
from .model import AudioClassifier
from .pretrained import is_url, with_local_paths

log = logging.getLogger("lmac.classifier")


def permute_labels(labels: np.ndarray, seed: int) -> np.ndarray:
    """A seeded permutation of ``labels`` (the same multiset, shuffled across clips)."""
    labels = np.asarray(labels)
    return labels[np.random.default_rng([int(seed), 0x5A17]).permutation(len(labels))]


def _initialise(model: AudioClassifier, init_checkpoint: str | None, init_head: str | None) -> None:
    if not init_checkpoint:
        return
    for key, value in (("init_checkpoint", init_checkpoint), ("init_head", init_head)):
        if is_url(value):  # the workflow's download_classifier rule fetches it to a local path first
            raise LmacError(
                f"config key 'classifier.{key}': {value} is a URL; download it first "
                f"(snakemake download_classifier) or give a local path"
            )
    payload = load_torch_file(init_checkpoint)
    source = init_checkpoint
    if isinstance(payload, dict) and payload.get("kind") == "classifier":
        weights = payload.get("state_dict")
        if not _tensors(weights):
            raise LmacError(f"{init_checkpoint}: classifier checkpoint holds no weights")
        state = {
            k[len("net.embedding_model.") :]: v for k, v in weights.items() if k.startswith("net.embedding_model.")
        }
        head = {k[len("net.classifier.") :]: v for k, v in weights.items() if k.startswith("net.classifier.")}
    elif _tensors(payload):
        state, head = payload, load_torch_file(init_head) if init_head else None
        if head is not None and not _tensors(head):
            raise LmacError(f"{init_head}: not a SpeechBrain classifier.ckpt (no mapping of names to tensors)")
        if head is not None:
            source = f"{init_checkpoint} + {init_head}"
    else:
        raise LmacError(f"{init_checkpoint}: neither an lmac classifier nor a SpeechBrain embedding_model.ckpt")
    n_out = model.net.classifier.out_features
    head_rows = next((v.shape[0] for k, v in (head or {}).items() if k.endswith("weight")), None)
    if head is not None and head_rows != n_out:
        log.info("init head has %s classes, the dataset %d: the head starts from scratch", head_rows, n_out)
        head = None
    if head:
        try:
            model.net.load_speechbrain(state, head)
        except LmacError as err:  # it names the part (embedding_model, classifier); add the files
            raise LmacError(f"{source}: {err}") from None
    else:
        load_weights(
            init_checkpoint,
            model.net.embedding_model,
            state,
            f"a width-{model.width} CNN14",
            optional_suffixes=("num_batches_tracked",),
            hint=f"not the embedding of a width-{model.width} CNN14 on {model.frontend.cfg.n_mels} mel bins?",
        )
    log.info("initialised from %s%s", init_checkpoint, f" + head {init_head}" if head else "")


def _tensors(obj) -> bool:
    """A non-empty mapping of names to tensors: what a state dict file holds."""
    return isinstance(obj, dict) and bool(obj) and all(torch.is_tensor(v) for v in obj.values())


def training_clip_seconds(prepared_dir: str, clip_samples: int, sample_rate: int) -> float:
    """The training clips' length, recorded in the checkpoint: ``lmac explain`` windows long audio by it."""
    try:
        return float(json.loads((Path(prepared_dir) / "prepare.json").read_text())["settings"]["clip_seconds"])
    except (OSError, ValueError, KeyError, TypeError):  # a dataset prepared without its record
        return clip_samples / sample_rate


def cyclic_scheduler(opt: torch.optim.Optimizer, sched_cfg: dict | None) -> torch.optim.lr_scheduler.CyclicLR | None:
    """The recipe's triangular cyclic learning rate, stepped once per batch; None for a constant rate.

    SpeechBrain's ``CyclicLRScheduler`` sets batch k's rate to clr(k) before its update; torch's
    ``CyclicLR`` gives batch k clr(k - 1): one step of ``step_size`` (65 000 in the recipe) apart.
    """
    sched_cfg = sched_cfg or {}
    if sched_cfg.get("type", "constant") == "constant":
        return None
    return torch.optim.lr_scheduler.CyclicLR(
        opt,
        base_lr=sched_cfg.get("base_lr", 1e-8),
        max_lr=sched_cfg.get("max_lr", 2e-4),
        step_size_up=int(sched_cfg.get("step_size", 65000)),
        mode="triangular",
        cycle_momentum=False,
    )


@dataclass(frozen=True, kw_only=True)
class ClassifierJob(TrainingJob):
    """Train and export the classifier (config section ``classifier``, with the ``frontend``).

    The training noise, when ``cfg["noise"]["enabled"]``, is the top-level ``noise`` section's source.
    """

    SECTION = "classifier"
    frontend: dict

    @classmethod
    def own_fields(cls, config: dict, *, init_files: Mapping[str, str] | None = None) -> dict:
        """``init_files``: the local copies of ``init_checkpoint`` / ``init_head`` given by URL (the rule's inputs)."""
        return {"cfg": with_local_paths(config[cls.SECTION], init_files or {}), "frontend": config["frontend"]}

    @classmethod
    def rule_inputs(cls, snakemake) -> dict:
        return {"init_files": dict(snakemake.input.items())}

    def run(self) -> dict:
        return train_classifier(self)


def train_classifier(job: ClassifierJob) -> dict:
    """Train and export the classifier; return its metrics."""
    cfg, seed, prepared_dir = job.cfg, job.seed, job.prepared_dir
    seed_everything(seed)
    dev = pick_device(job.device)
    audio, manifest, classes = load_prepared(prepared_dir)
    train, valid, test = (split(audio, manifest, name) for name in ("train", "valid", "test"))
    permuted = bool(cfg.get("permute_labels", False))
    if permuted:  # the data-randomisation sanity check: fit labels that carry no information
        train = dataclasses.replace(train, labels=permute_labels(train.labels, seed))
        log.info(
            "training labels permuted (seed %d): %.1f %% of clips keep their label",
            seed,
            100 * float((train.labels == split(audio, manifest, "train").labels).mean()),
        )
    model = AudioClassifier(classes, cfg["width"], FrontEndConfig.from_dict(job.frontend), cfg.get("dropout", 0.2))
    _initialise(model, cfg.get("init_checkpoint"), cfg.get("init_head"))
    model.to(dev)
    compute = job.compute
    compute.compiled(model.net)
    log.info(
        "classifier: width %s, %.2f M parameters, %d classes, %d/%d/%d clips, device %s",
        cfg["width"],
        sum(p.numel() for p in model.parameters()) / 1e6,
        len(classes),
        len(train),
        len(valid),
        len(test),
        dev,
    )
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    sched_cfg = cfg.get("scheduler") or {}
    scheduler = cyclic_scheduler(opt, sched_cfg)
    own_noise, noise_cfg = cfg.get("noise", {}) or {}, job.noise_cfg
    noise = job.noise(model.frontend.cfg.sample_rate, seed + 1) if own_noise.get("enabled") else None
    bs = cfg["batch_size"]
    log.info(
        "training noise %s; learning rate %s",
        noise or "off",
        f"cyclic {sched_cfg.get('base_lr', 1e-8):g}..{sched_cfg.get('max_lr', 2e-4):g} "
        f"(step size {sched_cfg.get('step_size', 65000)})"
        if scheduler
        else f"constant {cfg['lr']:g}",
    )

    def maybe_noisy(wav: torch.Tensor) -> torch.Tensor:
        if noise is None:
            return wav
        return mix(
            wav, noise.draw(wav.shape[0], wav.shape[1]), own_noise.get("snr_db", 0.0), noise_cfg.get("peak", "abs")
        )

    def train_step(batch) -> float:
        wav, labels, _ = batch
        with compute.autocast(dev):
            logits, _ = model(compute.to(maybe_noisy(wav), dev))
            loss = F.cross_entropy(logits, compute.to(labels, dev))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    def heard(wav: torch.Tensor, stage: str, b: int) -> torch.Tensor:
        """A validation or test batch as classified: clean, or (noise.eval_stages) mixed with noise seeded
        by (seed, stage, batch), the same every epoch."""
        if noise is None or not own_noise.get("eval_stages", False):
            return wav
        g = torch.Generator().manual_seed(stream_seed(seed, "classifier", stage, b))
        return mixed(noise, wav, g, own_noise.get("snr_db", 0.0), noise_cfg.get("peak", "abs"))

    def evaluate(data, stage: str) -> dict:
        losses, correct = [], 0
        for b, (wav, labels, _) in enumerate(data.batches(bs)):
            with compute.autocast(dev):
                logits, _ = model(heard(wav, stage, b).to(dev))
                losses.append(F.cross_entropy(logits, labels.to(dev), reduction="sum").item())
            correct += (logits.argmax(-1).cpu() == labels).sum().item()
        return {"valid_loss": sum(losses) / len(data), "valid_acc": correct / len(data)}

    def validate() -> dict:
        if scheduler is not None and sched_cfg.get("count_valid_batches", False):
            for _ in range(valid.n_batches(bs)):  # the recipe advances its schedule on validation batches too
                scheduler.step()
        return evaluate(valid, "valid")

    settings = {
        "cfg": cfg,
        "frontend": job.frontend,
        "seed": seed,
        "classes": classes,
        "prepared": str(Path(prepared_dir).resolve()),
    }
    if noise is not None:  # the source matters only when noise is mixed in
        settings["noise"] = noise_cfg
    best_state, history = run_training(
        module=model,
        optimizer=opt,
        train_batches=lambda ep: train.batches(bs, True, seed, ep),
        steps_per_epoch=train.n_batches(bs),
        train_step=train_step,
        validate=validate,
        spec=LoopSpec(cfg["epochs"], monitor="valid_acc", mode="max", select=cfg.get("select", "best")),
        work_dir=job.outputs.work,
        settings=settings,
        step_scheduler=scheduler,
        compute=compute,
        device=dev,
    )
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        scores = {"valid": evaluate(valid, "valid"), "test": evaluate(test, "test")}
        if permuted:  # memorisation of the permuted labels it was trained on
            scores["train"] = evaluate(train, "train")
    metrics = {
        "valid_accuracy": scores["valid"]["valid_acc"],
        "test_accuracy": scores["test"]["valid_acc"],
        "test_loss": scores["test"]["valid_loss"],
        "epochs": cfg["epochs"],
        "n_train": len(train),
        "n_valid": len(valid),
        "n_test": len(test),
        "classes": classes,
    }
    if permuted:
        metrics.update(permuted_labels=True, train_accuracy=scores["train"]["valid_acc"])
        log.info("accuracy on the permuted training labels %.4f", metrics["train_accuracy"])
    log.info("test accuracy %.4f, valid accuracy %.4f", metrics["test_accuracy"], metrics["valid_accuracy"])
    write_csv(job.outputs.history, pd.DataFrame(history))
    write_json(job.outputs.metrics, metrics)
    model.clip_seconds = training_clip_seconds(prepared_dir, audio.shape[1], model.frontend.cfg.sample_rate)
    model.save(job.outputs.model, meta={"test_accuracy": metrics["test_accuracy"], "seed": seed})
    return metrics
