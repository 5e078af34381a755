"""The example clips of an evaluation as sounds: loaded from the explanation files, at 16 kHz, peak-safe.

Every evaluation keeps its first ``report.n_examples`` clips (the same clips, in the same order, for every
method) with their input, clean target and listenable explanation (``results/<run>/explanations/…npz``).
Sounds are written as 16-bit WAV at :data:`SAMPLE_RATE`; a different rate is resampled (polyphase).
Levels: the sounds shown together get one common gain (:func:`common_gain`), so no method is made
louder or quieter than another and the loudest peak sits at :data:`PEAK` (−1 dBFS).
"""

from __future__ import annotations

import base64
import io
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from ..errors import LmacError

SAMPLE_RATE = 16000
PEAK = 10 ** (-1 / 20)  # −1 dBFS: the loudest sample of a set of sounds after its common gain
KEYS = ("ids", "sample_rate", "waveform", "input", "target")
#: what a level treatment says of itself, for the pages
LEVELS_TEXT = (
    "every sound of one clip (input, clean target, each method's explanation) is scaled by one common gain, "
    "so that the loudest of them peaks at −1 dBFS: relative levels are kept, no method is made louder than "
    "another, and nothing clips"
)


@dataclass(frozen=True)
class Examples:
    """One method's example clips on one condition: ids and float32 [clips, samples] arrays at 16 kHz."""

    ids: list[str]
    explanation: np.ndarray
    input: np.ndarray
    target: np.ndarray

    def index(self, clip: str, source: str) -> int:
        if clip not in self.ids:
            raise LmacError(f"{source}: has no example clip {clip} (it holds {', '.join(self.ids)})")
        return self.ids.index(clip)


def to_rate(wav: np.ndarray, rate: int) -> np.ndarray:
    """``wav`` [..., samples] at ``rate`` resampled to :data:`SAMPLE_RATE`."""
    wav = np.asarray(wav, dtype=np.float32)
    if rate == SAMPLE_RATE:
        return wav
    g = math.gcd(rate, SAMPLE_RATE)
    return resample_poly(wav, SAMPLE_RATE // g, rate // g, axis=-1).astype(np.float32)


def load_examples(path: str | os.PathLike, method: str) -> Examples:
    """The example clips of one explanation file (``method`` names it in errors)."""
    try:
        with np.load(path) as data:
            missing = [k for k in KEYS if k not in data.files]
            if missing:
                raise LmacError(f"{path}: lacks the array(s) {', '.join(missing)} ({method}'s explanations)")
            arrays = {k: data[k] for k in KEYS}
    except FileNotFoundError:
        raise LmacError(f"{path}: no such file ({method}'s explanations)") from None
    except (ValueError, OSError) as err:
        raise LmacError(f"{path}: not a readable .npz ({err})") from None
    rate = int(arrays["sample_rate"])
    flat = {k: to_rate(np.asarray(arrays[k]).reshape(len(arrays["ids"]), -1), rate) for k in KEYS[2:]}
    return Examples(list(map(str, arrays["ids"])), flat["waveform"], flat["input"], flat["target"])


def load_condition(paths: Mapping[str, str | os.PathLike]) -> dict[str, Examples]:
    """{method: its examples} of one condition, from {method: explanation file}."""
    return {method: load_examples(path, method) for method, path in paths.items()}


def shared_clips(loaded: Mapping[str, Examples], n: int, source: str) -> list[str]:
    """The first ``n`` example clips every method holds, in the first method's order."""
    first, *rest = (e.ids for e in loaded.values())
    shared = [c for c in first if all(c in ids for ids in rest)]
    if len(shared) < n:
        raise LmacError(
            f"{source}: the methods' explanation files share {len(shared)} example clip(s), {n} asked for "
            "(raise report.n_examples or lower the listening setting)"
        )
    return shared[:n]


def common_gain(sounds: Sequence[np.ndarray]) -> float:
    """The gain that brings the loudest peak of ``sounds`` to :data:`PEAK` (1 for silence)."""
    peak = max((float(np.max(np.abs(s))) for s in sounds if s.size), default=0.0)
    return PEAK / peak if peak > 0 else 1.0


def wav_bytes(wav: np.ndarray) -> bytes:
    """16-bit PCM WAV of ``wav`` at :data:`SAMPLE_RATE` (clipped to ±1 in case a caller skipped the gain)."""
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(np.asarray(wav, dtype=np.float32), -1.0, 1.0), SAMPLE_RATE, "PCM_16", format="WAV")
    return buffer.getvalue()


def data_uri(payload: bytes, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(payload).decode("ascii")
