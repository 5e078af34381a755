"""Atomic file output and small readers shared by every stage.

Every output is written to a temporary sibling and renamed into place, so a killed job never
leaves a half-written file that a later step (or Snakemake) would take for a finished one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from .errors import LmacError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():  # mkstemp makes the file 0600; give it the permissions a plain open() would
            os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def check_output_dir(path: str | os.PathLike, what: str = "") -> Path:
    """Raise :class:`LmacError` unless ``path`` is, or can be made, a folder this process may write in.

    Creates nothing. A step writes its outputs when its work is done, so without this a ``--out``
    below a file or in a read-only place would be found out after an hour of training, and as a
    traceback. ``what`` names the option in the message (``--out``).
    """
    path = Path(path)
    return _check_writable(path, path, f"{what} {path}" if what else str(path))


def check_output_file(path: str | os.PathLike, what: str = "") -> Path:
    """As :func:`check_output_dir`, for a file: it may exist, but not as a folder."""
    path = Path(path)
    name = f"{what} {path}" if what else str(path)
    if path.is_dir():
        raise LmacError(f"{name}: is a folder, not a file")
    _check_writable(path.parent, path, name)
    return path


def _check_writable(folder: Path, path: Path, name: str) -> Path:
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise LmacError(
            f"{name}: {'is' if existing == path else f'lies below {existing}, which is'} a file, not a folder"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise LmacError(f"{name}: cannot write in {existing} (permission denied)")
    return path


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_csv(path: str | os.PathLike, frame) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    with atomic_path(path, suffix=".npy") as tmp:
        np.save(tmp, array)


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)


def write_wav(path: str | os.PathLike, wav: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> None:
    wav = np.asarray(wav, dtype=np.float32)
    with atomic_path(path) as tmp:
        sf.write(
            tmp,
            np.clip(wav, -1.0, 1.0) if subtype.startswith("PCM") else wav,
            sample_rate,
            subtype=subtype,
            format=Path(path).suffix.lstrip(".").upper() or "WAV",
        )


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Read an audio file as float32 [channels, samples]; clear error if it is not audio."""
    path = Path(path)
    if not path.is_file():
        raise LmacError(f"{path}: no such file")
    try:
        data, sr = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise LmacError(f"{path}: not a readable audio file ({err})") from None
    return data.T.copy(), int(sr)
