"""``lmac explain``'s input side: check a file in bounded memory, then read it one window at a time.

:func:`scan` decodes a file in blocks of :data:`BLOCK_FRAMES` frames, so checking an hour of audio
for NaN/inf costs no more memory than checking a second; it also counts the frames that can really
be decoded, which is how a truncated file is noticed (:func:`wav_data_chunk` reads what a WAV
header promises). :class:`WindowReader` then reads any span of the file as the classifier's
training data were prepared (channels averaged, ``torchaudio.transforms.Resample``), seeking to
the span and resampling it with a few blocks of context on each side: torchaudio computes output
block b (``new`` samples) from input samples ``[b·orig − width, (b+1)·orig + width)``, so a span
read from a block boundary with at least ``width`` samples of context on each side gives the
samples a resampling of the whole file would (to float rounding; the tests hold it to 1e-6).
"""

from __future__ import annotations

import logging
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import numpy as np
import soundfile as sf
import torch

from .errors import LmacError

log = logging.getLogger("lmac.explain")

BLOCK_FRAMES = 1 << 16
# torchaudio.transforms.Resample's defaults, which the training data were prepared with
LOWPASS_FILTER_WIDTH = 6
ROLLOFF = 0.99
# 44.1 kHz → 16 kHz takes 0.6 MB; a rate sharing no factor with 16 kHz (44101 Hz) would take GBs
MAX_RESAMPLER_BYTES = 256 << 20


@dataclass
class AudioSource:
    """One checked input: what was decoded, and its length at the classifier's rate."""

    path: Path
    rate: int
    channels: int
    frames: int  # frames that decode (fewer than the header promises in a truncated file)
    samples: int  # length at the classifier's rate
    warnings: list[str] = field(default_factory=list)  # logged when the file is explained, not before
    name: str = ""  # output name, unique in the run


def resampled_length(frames: int, rate: int, sample_rate: int) -> int:
    """torchaudio's ``Resample`` output length: ceil(frames · new / orig)."""
    g = math.gcd(rate, sample_rate)
    return -(-frames * (sample_rate // g) // (rate // g))


def _phases(rate: int, sample_rate: int) -> tuple[int, int, int]:
    """(orig, new, width) of torchaudio's sinc resampler: rates reduced by their gcd, filter half-width."""
    g = math.gcd(rate, sample_rate)
    orig, new = rate // g, sample_rate // g
    return orig, new, math.ceil(LOWPASS_FILTER_WIDTH * orig / (min(orig, new) * ROLLOFF))


def resampler_bytes(rate: int, sample_rate: int) -> int:
    """Memory of torchaudio's resampling filter, built in float64: one row of orig + 2·width taps per output phase."""
    if rate == sample_rate:
        return 0
    orig, new, width = _phases(rate, sample_rate)
    return new * (orig + 2 * width) * 8


def check_readable(path: Path) -> None:
    """One-line errors for what libsndfile would only call "System error."."""
    if path.is_dir():
        raise LmacError(f"{path}: is a folder, not an audio file")
    if not path.exists():
        raise LmacError(f"{path}: no such file")
    try:
        with open(path, "rb"):
            pass
    except PermissionError:
        raise LmacError(f"{path}: permission denied (the file exists but cannot be read)") from None
    except OSError as err:
        raise LmacError(f"{path}: cannot be read ({(err.strerror or type(err).__name__).lower()})") from None


def _open(path: Path) -> sf.SoundFile:
    try:
        return sf.SoundFile(path)
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise LmacError(f"{path}: not a readable audio file ({err})") from None


def scan(path: Path, sample_rate: int, shortest: int) -> AudioSource:
    """Check ``path`` in blocks (readable, channels, rate, length, finite); ``LmacError`` naming it if unusable."""
    check_readable(path)
    with _open(path) as f:
        channels, rate, promised = f.channels, f.samplerate, f.frames
        if channels < 1 or rate < 1:
            raise LmacError(f"{path}: {channels} channels at {rate} Hz is not usable audio")
        frames = bad = 0
        try:
            for block in f.blocks(BLOCK_FRAMES, dtype="float32", always_2d=True):
                frames += block.shape[0]
                bad += int(np.count_nonzero(~np.isfinite(block)))
        except (sf.LibsndfileError, RuntimeError) as err:
            raise LmacError(f"{path}: decoding fails after {frames} of {promised} frames ({err})") from None
    if frames == 0:
        raise LmacError(f"{path}: empty audio file (0 samples)")
    if bad:
        raise LmacError(f"{path}: {bad} of {frames * channels} samples are NaN or infinite")
    samples = resampled_length(frames, rate, sample_rate)
    if samples < shortest:
        raise LmacError(
            f"{path}: too short: {frames} samples at {rate} Hz ({frames / rate:.3f} s) become "
            f"{samples} at {sample_rate} Hz; the classifier needs at least {shortest} "
            f"({shortest / sample_rate:.3f} s)"
        )
    filter_bytes = resampler_bytes(rate, sample_rate)
    if filter_bytes > MAX_RESAMPLER_BYTES:
        raise LmacError(
            f"{path}: resampling {rate} Hz to {sample_rate} Hz needs a {filter_bytes / 2**30:.1f} GiB "
            f"filter (the rates share only a factor of {math.gcd(rate, sample_rate)}); convert the "
            f"file to a common rate such as {sample_rate} Hz first"
        )
    source = AudioSource(path, rate, channels, frames, samples)
    truncated = _truncation(path, frames, promised, rate)
    if truncated:
        source.warnings.append(truncated)
    return source


def _truncation(path: Path, frames: int, promised: int, rate: int) -> str | None:
    """A warning if the file holds less audio than its header promises (libsndfile reads what is there)."""
    chunk = wav_data_chunk(path)
    if chunk is not None:
        declared, present, block_align = chunk
        if declared > present:
            return (
                f"{path}: truncated WAV: its header promises {declared // block_align} frames "
                f"({declared // block_align / rate:.3f} s, a {declared}-byte data chunk), the file holds "
                f"{present} of those bytes; explaining the {frames} frames present ({frames / rate:.3f} s)"
            )
    if frames < promised:
        return (
            f"{path}: truncated: its header promises {promised} frames, {frames} decode; "
            f"explaining the {frames} frames present"
        )
    return None


def wav_data_chunk(path: Path) -> tuple[int, int, int] | None:
    """(bytes the data chunk declares, bytes the file holds after its start, block align) of a
    RIFF/RF64 WAV; None for anything else."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
            return None
        block_align, ds64_data = 1, None
        while True:
            header = fh.read(8)
            if len(header) < 8:
                return None
            ident, length = header[:4], struct.unpack("<I", header[4:])[0]
            start = fh.tell()
            if ident == b"fmt ":
                fmt = fh.read(min(length, 16))
                block_align = max(1, struct.unpack("<H", fmt[12:14])[0]) if len(fmt) >= 14 else 1
            elif ident == b"ds64":
                ds64 = fh.read(min(length, 16))
                ds64_data = struct.unpack("<Q", ds64[8:16])[0] if len(ds64) >= 16 else None
            elif ident == b"data":
                declared = ds64_data if length == 0xFFFFFFFF and ds64_data is not None else length
                return declared, max(0, size - start), block_align
            fh.seek(start + length + (length & 1))  # chunks are word-aligned


class WindowReader:
    """Spans of one source at the classifier's rate, mono, as training data were prepared."""

    def __init__(self, source: AudioSource, sample_rate: int):
        self.source = source
        self.orig, self.new, width = _phases(source.rate, sample_rate)
        self.resample = None
        if source.rate != sample_rate:
            import torchaudio  # the module prepare.py uses: its kernel is built in float64

            self.resample = torchaudio.transforms.Resample(orig_freq=source.rate, new_freq=sample_rate)
        self.context_blocks = -(-width // self.orig) + 1  # whole blocks each side, at least ``width`` samples
        self.file = _open(source.path)

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _frames(self, start: int, stop: int) -> np.ndarray:
        self.file.seek(start)
        data = self.file.read(stop - start, dtype="float32", always_2d=True)
        if data.shape[0] != stop - start:  # the file changed since it was checked
            raise LmacError(
                f"{self.source.path}: read {data.shape[0]} frames at {start}, expected "
                f"{stop - start}; did the file change during the run?"
            )
        return data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0].copy()

    def read(self, start: int, length: int) -> torch.Tensor:
        """Samples ``[start, start + length)`` at the classifier's rate, [length] float32."""
        if self.resample is None:
            return torch.from_numpy(self._frames(start, start + length))
        first = max(0, start // self.new - self.context_blocks)
        last = -(-(start + length) // self.new) + self.context_blocks
        stop = min(self.source.frames, last * self.orig)
        mono = torch.from_numpy(self._frames(first * self.orig, stop))
        offset = start - first * self.new
        return self.resample(mono[None])[0, offset : offset + length].contiguous()
