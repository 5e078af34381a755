"""Batches of prepared clips for training and evaluation.

Prepared audio is one float32 array [N, L] (``prepare.load_prepared``), memory-mapped, so a
batch is a fancy-index into it: no worker processes, no per-file decoding during training.
Shuffling uses a generator seeded by (seed, epoch), so a resumed run sees the same order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ..errors import LmacError


@dataclass
class Split:
    audio: np.ndarray  # [N, L] float32 (memory-mapped)
    rows: np.ndarray  # indices into audio
    labels: np.ndarray  # [n] int64
    ids: list[str]

    def __len__(self) -> int:
        return len(self.rows)

    def n_batches(self, batch_size: int) -> int:
        return -(-len(self) // batch_size)

    def batches(
        self, batch_size: int, shuffle: bool = False, seed: int = 0, epoch: int = 0
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, np.ndarray]]:
        order = np.arange(len(self))
        if shuffle:
            np.random.default_rng([seed, epoch]).shuffle(order)
        for start in range(0, len(order), batch_size):
            pick = order[start : start + batch_size]
            wav = torch.from_numpy(np.ascontiguousarray(self.audio[np.sort(self.rows[pick])]))
            # keep the shuffled order: np.sort above only makes the mmap read sequential
            inverse = np.argsort(np.argsort(self.rows[pick]))
            yield wav[inverse], torch.from_numpy(self.labels[pick]), pick


def split(audio: np.ndarray, manifest: pd.DataFrame, name: str, limit: int | None = None) -> Split:
    rows = manifest[manifest["split"] == name]
    if rows.empty:
        raise LmacError(f"prepared dataset has no clips in split '{name}'")
    if limit:
        rows = rows.iloc[:limit]
    return Split(
        audio=audio,
        rows=rows["index"].to_numpy(),
        labels=rows["label"].to_numpy(np.int64),
        ids=rows["id"].astype(str).tolist(),
    )
