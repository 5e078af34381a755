"""The training loop every lmac model shares: resumable, logged, with checkpoint selection.

State lives in an undeclared work directory (``last.pt`` each epoch, ``best.pt`` on
improvement), so a job killed by a cluster's wall clock resumes where it stopped; only the
final, exported model is a workflow output (Snakemake deletes declared outputs of failed jobs).
A fingerprint of the run's settings guards the resume: a work directory left by a different
configuration is started afresh rather than silently continued.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .checkpoints import check_state_dict, load_torch_file
from .compute import REFERENCE, Compute
from .devices import check_device
from .errors import LmacError
from .io import atomic_path, write_json

log = logging.getLogger("lmac.train")


def pick_device(requested: str = "auto") -> torch.device:
    """The torch device for ``auto``, ``cpu``, ``cuda`` or ``cuda:N``; anything else is an LmacError.

    Checked up front because ``torch.device`` accepts ``mps`` or ``cuda:7`` on a one-GPU machine
    and the job then dies with a traceback when the first tensor moves, after the data were loaded.
    """
    check_device(requested, torch.cuda.device_count() if torch.cuda.is_available() else 0)
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def fingerprint(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h:d}:{m:02d}:{s:02d}"


class Progress:
    """Logs step and epoch progress with an ETA, at most every ``every_s`` seconds."""

    def __init__(self, epochs: int, steps_per_epoch: int, start_epoch: int = 1, every_s: float = 10.0):
        self.epochs, self.steps, self.every_s = epochs, max(1, steps_per_epoch), every_s
        self.t0 = time.monotonic()
        self.done_at_start = (start_epoch - 1) * self.steps
        self.last = -math.inf

    def step(self, epoch: int, step: int, loss: float) -> None:
        now = time.monotonic()
        if now - self.last < self.every_s and step != self.steps:
            return
        self.last = now
        done = (epoch - 1) * self.steps + step - self.done_at_start
        left = self.epochs * self.steps - self.done_at_start - done
        eta = (now - self.t0) / max(done, 1) * left
        log.info(
            "epoch %d/%d step %d/%d loss %.4f | elapsed %s ETA %s",
            epoch,
            self.epochs,
            step,
            self.steps,
            loss,
            format_duration(now - self.t0),
            format_duration(eta),
        )


@dataclass
class LoopSpec:
    epochs: int
    monitor: str = "valid_loss"  # key of the validation dict that selects the checkpoint
    mode: str = "min"  # "min" or "max"
    select: str = "best"  # "best" or "last" (the reference keeps the last epoch)
    history_keys: list[str] = field(default_factory=list)
    # what the plateau scheduler watches, when not the selection score: (key, "min" or "max")
    plateau: tuple[str, str] | None = None


def _better(a: float, b: float | None, mode: str) -> bool:
    if b is None or math.isnan(b):
        return not math.isnan(a)
    return a < b if mode == "min" else a > b


RESUME_KEYS = ("model", "optimizer", "epoch", "best", "history", "torch_rng")


def _cannot_resume(state: dict, module: torch.nn.Module, optimizer: torch.optim.Optimizer, path: Path) -> str | None:
    """Why ``state``, a ``last.pt`` of these settings, cannot be loaded into ``module``; None if it can.

    Checked in full before anything is loaded, so a refusal leaves the freshly built model as it was.
    Loads ``optimizer``'s state as its check (torch validates the groups before changing anything).
    """
    missing = [k for k in RESUME_KEYS if k not in state]
    if missing:
        return f"it lacks {', '.join(missing)}"
    try:
        check_state_dict(path, state["model"], module.state_dict(), "this")
    except LmacError as err:
        return str(err).removeprefix(f"{path}: ")
    try:
        optimizer.load_state_dict(state["optimizer"])
    except (ValueError, KeyError, TypeError) as err:
        return f"its optimiser state does not fit: {(str(err).splitlines() or [type(err).__name__])[0]}"
    return None


def run_training(
    *, compute: Compute = REFERENCE, device: torch.device | None = None, **loop
) -> tuple[dict, list[dict]]:
    """:func:`training_loop` (``loop``: its arguments) with ``compute``'s switches held for the whole run on
    ``device`` (default the CPU): it makes the training batches (pinned, ahead in the background) and runs
    validation under its autocast; ``train_step`` runs its own forward pass under ``compute.autocast``
    (the backward pass stays outside it). ``compute`` is not in the fingerprint: the checkpoints are fp32
    whatever the precision, so a run resumes under another one.
    """
    device = device or torch.device("cpu")
    with compute.applied(device):
        return training_loop(**loop, compute=compute, device=device)


def training_loop(
    *,
    module: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    train_batches: Callable[[int], Iterable],
    steps_per_epoch: int,
    train_step: Callable[[object], float],
    validate: Callable[[], dict],
    spec: LoopSpec,
    work_dir: str | Path,
    settings: dict,
    scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau | None = None,
    step_scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    compute: Compute,
    device: torch.device,
) -> tuple[dict, list[dict]]:
    """Train ``module`` and return (selected state_dict, history).

    ``train_batches(epoch)`` yields the epoch's batches (seeded by epoch, so a resumed run sees
    the same order); ``train_step(batch)`` does forward/backward/step and returns the loss;
    ``validate()`` returns a dict of validation scores that contains ``spec.monitor``.
    ``scheduler`` steps once per epoch on the monitored score (or ``spec.plateau``'s), ``step_scheduler`` after every
    training step; both are checkpointed with the optimiser, so a resumed run continues the schedule.
    """
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    fp = fingerprint(settings)
    start_epoch, best, history = 1, None, []
    last_path, best_path = work / "last.pt", work / "best.pt"
    if last_path.exists():
        state = load_torch_file(last_path)
        same = isinstance(state, dict) and state.get("fingerprint") == fp
        why = _cannot_resume(state, module, optimizer, last_path) if same else None
        if why is not None:
            # same settings, another model: left by another version of lmac (the fingerprint covers
            # the settings, not the code); its epochs cannot be continued, so they are redone
            log.warning("%s cannot be resumed (%s); starting afresh", last_path, why)
            best_path.unlink(missing_ok=True)
        elif same:
            module.load_state_dict(state["model"])
            for sched, key in ((scheduler, "scheduler"), (step_scheduler, "step_scheduler")):
                if sched is not None and state.get(key):
                    sched.load_state_dict(state[key])
            start_epoch, best, history = state["epoch"] + 1, state["best"], state["history"]
            torch.set_rng_state(state["torch_rng"])
            log.info("resuming from %s after epoch %d", last_path, state["epoch"])
        else:
            log.warning("%s was written by a different configuration; starting afresh", last_path)
            best_path.unlink(missing_ok=True)
    write_json(work / "settings.json", settings)
    progress = Progress(spec.epochs, steps_per_epoch, start_epoch)
    for epoch in range(start_epoch, spec.epochs + 1):
        module.train()
        t0, losses = time.monotonic(), []
        for step, batch in enumerate(compute.batches(train_batches(epoch), device), start=1):
            losses.append(float(train_step(batch)))
            if step_scheduler is not None:
                step_scheduler.step()
            progress.step(epoch, step, float(np.mean(losses)))
        module.eval()
        with torch.no_grad(), compute.autocast(device):
            scores = {k: float(v) for k, v in validate().items()}
        if spec.monitor not in scores:
            raise LmacError(f"validation did not report the monitored key '{spec.monitor}'")
        row = {
            "epoch": epoch,
            "train_loss": float(np.mean(losses)) if losses else float("nan"),
            "lr": optimizer.param_groups[0]["lr"],
            **scores,
            "seconds": time.monotonic() - t0,
        }
        history.append(row)
        improved = _better(scores[spec.monitor], best, spec.mode)
        if improved:
            best = scores[spec.monitor]
            save_state({"model": module.state_dict(), "epoch": epoch, "score": best}, best_path)
        if scheduler is not None:
            key, mode = spec.plateau or (spec.monitor, spec.mode)
            # a min-mode plateau gets a maximised score negated (its relative threshold then misreads
            # ties among negative scores as gains: a max-mode plateau takes the score itself)
            scheduler.step(scores[key] if mode == getattr(scheduler, "mode", "min") else -scores[key])
        log.info(
            "epoch %d/%d done in %.1fs: %s%s",
            epoch,
            spec.epochs,
            row["seconds"],
            " ".join(f"{k} {v:.4f}" for k, v in scores.items()),
            " (best)" if improved else "",
        )
        save_state(
            {
                "model": module.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict() if scheduler is not None else None,
                "step_scheduler": step_scheduler.state_dict() if step_scheduler is not None else None,
                "epoch": epoch,
                "best": best,
                "history": history,
                "fingerprint": fp,
                "torch_rng": torch.get_rng_state(),
            },
            last_path,
        )
    if spec.select == "last" or not best_path.exists():
        return module.state_dict(), history
    chosen = load_torch_file(best_path)
    log.info("selected epoch %d (%s %.4f)", chosen["epoch"], spec.monitor, chosen["score"])
    return chosen["model"], history


#: what a training keeps in its work folder to resume; :func:`release_work` removes them once it is exported
RESUME_FILES = ("last.pt", "best.pt")


def save_state(state: dict, path: Path) -> None:
    """``torch.save`` atomically; a failed write (a full disk) is one line naming the file and the free space."""
    try:
        with atomic_path(path) as tmp:
            torch.save(state, tmp)
    except (OSError, RuntimeError) as err:
        free = shutil.disk_usage(path.parent).free / 2**30
        raise LmacError(
            f"{path}: could not be written ({str(err).splitlines()[0]}); {free:.1f} GiB free there"
        ) from None


def release_work(work_dir: str | Path) -> None:
    """A finished training's resume checkpoints, removed: once its model is exported they only cost disk
    (a width-1 L-MAC decoder's last.pt holds the weights and Adam's two moments, 2.8 GB, best.pt another 0.9)."""
    work, freed = Path(work_dir), 0
    for name in RESUME_FILES:
        path = work / name
        if path.is_file():
            freed += path.stat().st_size
            path.unlink()
    if freed:
        log.info("training finished: removed its resume checkpoints from %s (%.2f GB)", work, freed / 1e9)
