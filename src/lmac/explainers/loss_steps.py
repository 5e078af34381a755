"""The training step and validation pass every explainer trainer shares.

A trainer supplies ``step_loss(wav, generator) -> (loss, parts)``: its objective on one batch,
mixing noise drawn from ``generator`` when one is given. The generators are seeded by
(seed, "train", epoch, step) and (seed, "valid", batch), so a resumed run sees the noise the
uninterrupted run would have seen and validation sees the same noise every epoch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext

import numpy as np
import pandas as pd
import torch

from ..data.batches import Split

StepLoss = Callable[[torch.Tensor, "torch.Generator | None"], tuple[torch.Tensor, dict]]


def stream_seed(*parts: object) -> int:
    """A 63-bit seed from any labels (stable across runs and machines, unlike ``hash``)."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def _weighted_means(rows: list[dict], prefix: str) -> dict:
    frame = pd.DataFrame(rows)
    return {f"{prefix}{k}": float(np.average(frame[k], weights=frame["n"])) for k in frame.columns if k != "n"}


class LossSteps:
    """``train_step`` and ``validate`` for :func:`lmac.training.run_training`.

    ``train_keys`` names the training-batch parts reported next to validation (None: all); ``autocast()``
    is the context of a training step's forward pass and loss (``lmac.compute``; the backward pass is outside).
    """

    def __init__(
        self,
        step_loss: StepLoss,
        optimizer: torch.optim.Optimizer,
        valid: Split,
        batch_size: int,
        seed: int,
        noisy: bool,
        train_keys: Iterable[str] | None = None,
        autocast: Callable[[], AbstractContextManager] = nullcontext,
    ):
        self.step_loss, self.optimizer, self.valid = step_loss, optimizer, valid
        self.batch_size, self.seed, self.noisy = batch_size, seed, noisy
        self.train_keys = None if train_keys is None else tuple(train_keys)
        self.autocast = autocast
        self.epoch_parts: list[dict] = []  # this epoch's training-batch parts, reported with validation

    def generator(self, *parts) -> torch.Generator | None:
        return torch.Generator().manual_seed(stream_seed(self.seed, *parts)) if self.noisy else None

    def train_step(self, item) -> float:
        epoch, step, (wav, _, _) = item
        with self.autocast():
            loss, parts = self.step_loss(wav, self.generator("train", epoch, step))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.epoch_parts.append({**parts, "n": len(wav)})
        return loss.item()

    def validate(self) -> dict:
        rows = []
        for b, (wav, _, _) in enumerate(self.valid.batches(self.batch_size)):
            loss, parts = self.step_loss(wav, self.generator("valid", b))
            rows.append({"loss": loss.item(), **parts, "n": len(wav)})
        scores = _weighted_means(rows, "valid_")
        if self.epoch_parts:
            train = _weighted_means(self.epoch_parts, "train_")
            keep = train if self.train_keys is None else {k: train[k] for k in self.train_keys if k in train}
            scores.update(keep)
            self.epoch_parts.clear()
        return scores
