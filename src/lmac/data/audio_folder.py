"""Random fixed-length clips from a folder of audio files: WHAM! noise ``tr/``, LJSpeech ``wavs/``.

This is the reference's ``WHAMDataset`` draw (``recipes/ESC50/wham_prepare.py``) and its LJSpeech
overlap (``interpret/eval.py``), minus their global RNG state. One draw:

1. pick a file uniformly with the caller's ``torch.Generator``;
2. read it (soundfile), average channels;
3. resample the whole file to ``sample_rate`` with ``torchaudio.transforms.Resample`` (the module
   the reference uses; see ``data/prepare.py`` for why the module and not the function);
4. keep the **first** ``length`` samples (``offset="first"``, the reference: no random offset) or
   a window at a random start (``offset="random"``); zero-pad files that are too short.

Why a caller-supplied generator: evaluation seeds one generator per (condition, version, clip id),
so the noise a clip gets does not depend on batch size, method or how many draws came before it
(in the reference it does, through the shared numpy RNG). ``draw`` keeps a private generator for
training-style use, where only the stream as a whole has to be repeatable.

Files are sorted by their path relative to ``root`` so the same folder gives the same file
numbering on every machine; ``max_files`` keeps the first N of that order (the reference uses
the first 10 000 LJSpeech files).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torchaudio

from ..errors import LmacError
from ..io import read_audio

OFFSETS = ("first", "random")


class AudioFolder:
    """An endless source of ``length``-sample clips drawn from the audio files under ``root``."""

    def __init__(
        self,
        root: str | os.PathLike,
        sample_rate: int,
        *,
        pattern: str = "**/*.wav",
        offset: str = "first",
        seed: int = 0,
        max_files: int | None = None,
    ):
        root = Path(root)
        if not root.is_dir():
            raise LmacError(f"{root}: no such audio folder")
        if offset not in OFFSETS:
            raise LmacError(f"audio folder {root}: offset = {offset!r}: must be one of {', '.join(OFFSETS)}")
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
            raise LmacError(f"audio folder {root}: sample_rate = {sample_rate!r}: must be a positive integer")
        if max_files is not None and (isinstance(max_files, bool) or not isinstance(max_files, int) or max_files < 1):
            raise LmacError(f"audio folder {root}: max_files = {max_files!r}: must be a positive integer")
        files = sorted((p for p in root.glob(pattern) if p.is_file()), key=lambda p: p.relative_to(root).as_posix())
        if not files:
            raise LmacError(f"{root}: no audio files match '{pattern}'")
        self.root = root
        self.files: list[Path] = files[:max_files] if max_files else files
        self.sample_rate = sample_rate
        self.offset = offset
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)
        self._resamplers: dict[int, torch.nn.Module] = {}

    def __len__(self) -> int:
        return len(self.files)

    def __repr__(self) -> str:
        return f"AudioFolder({str(self.root)!r}, {self.sample_rate}, files={len(self)}, offset={self.offset!r})"

    def load(self, index: int) -> torch.Tensor:
        """File ``index`` as mono float32 at ``sample_rate``, full length, [samples]."""
        data, sr = read_audio(self.files[index])
        wav = torch.from_numpy(data).mean(dim=0)
        if sr != self.sample_rate:
            if sr not in self._resamplers:
                self._resamplers[sr] = torchaudio.transforms.Resample(orig_freq=sr, new_freq=self.sample_rate)
            with torch.no_grad():
                wav = self._resamplers[sr](wav)
        return wav.float()

    def sample(self, length: int, generator: torch.Generator) -> torch.Tensor:
        """One clip of exactly ``length`` samples, [length] float32, chosen with ``generator``."""
        index = int(torch.randint(len(self.files), (1,), generator=generator))
        wav = self.load(index)
        start = 0
        if self.offset == "random" and wav.shape[0] > length:
            start = int(torch.randint(wav.shape[0] - length + 1, (1,), generator=generator))
        wav = wav[start : start + length]
        if wav.shape[0] < length:
            wav = torch.nn.functional.pad(wav, (0, length - wav.shape[0]))
        return wav.contiguous()

    def draw(self, batch: int, length: int) -> torch.Tensor:
        """``batch`` clips from the folder's own seeded stream, [batch, length]."""
        return torch.stack([self.sample(length, self.generator) for _ in range(batch)])
