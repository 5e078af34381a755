"""``lmac explain``'s output side, in memory bounded by one window whatever the file's length.

- :func:`plan_windows`: where the windows go. Starts at 0, hop, 2·hop, …; the last window is
  shifted to end at the file's end (never padded), so every window is a full training-length
  clip of real audio; it then overlaps its predecessor by more than the others do.
- :class:`OverlapAdd`: streams the windows' waveforms into WAVs. Each window is weighted by a
  trapezoid whose linear ramps span exactly its overlaps with its neighbours (flat elsewhere, no
  ramp at the file's ends), and the sum is divided by the summed weights, so a signal that every
  window returns unchanged is written unchanged, whatever the hop. Only samples later windows can
  still touch are kept in memory (at most one window).
- :class:`SpectrogramSummary`: the figure's spectrograms, frames mean-pooled into at most
  :data:`MAX_COLUMNS` columns, so the figure of an hour costs what the figure of a minute does.
- temporary folders: each file's outputs are written into ``.NAME.lmac-explain-HOST-PID-XXXX``
  inside the output folder and renamed into place when complete; :func:`remove_stale_temporaries`
  removes those a killed run left behind (see there for why it never touches a live run's).
- :func:`open_wav`: float WAVs without libsndfile's PEAK chunk, whose timestamp would make two
  runs' files differ byte for byte.
"""

from __future__ import annotations

import logging
import math
import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

log = logging.getLogger("lmac.explain")

MAX_COLUMNS = 1000
SFC_SET_ADD_PEAK_CHUNK = 0x1050  # libsndfile's sndfile.h
WAV_LIMIT_BYTES = 0xFFFFFFFF - (1 << 20)  # RIFF sizes are 32-bit; leave room for the header chunks
STALE_AFTER_S = 24 * 3600
TEMP_TAG = "lmac-explain"


# --------------------------------------------------------------------------------------------
# windows


def plan_windows(total: int, window: int | None, hop: int | None) -> list[tuple[int, int]]:
    """(start, length) of each window over ``total`` samples; one clip when it fits in a window."""
    if window is None or total <= window:
        return [(0, total)]
    starts = list(range(0, total - window, hop)) + [total - window]
    return [(s, window) for s in starts]


def window_weight(length: int, left: int, right: int) -> np.ndarray:
    """Trapezoid over ``length`` samples: linear ramps across the ``left``/``right`` overlaps."""
    t = np.arange(length, dtype=np.float64) + 0.5
    weight = np.ones(length)
    if left > 0:
        weight = np.minimum(weight, t / left)
    if right > 0:
        weight = np.minimum(weight, (length - t) / right)
    return weight


def overlaps(windows: list[tuple[int, int]], i: int) -> tuple[int, int]:
    """Samples window ``i`` shares with its predecessor and with its successor."""
    start, length = windows[i]
    left = max(0, sum(windows[i - 1]) - start) if i > 0 else 0
    right = max(0, start + length - windows[i + 1][0]) if i + 1 < len(windows) else 0
    return min(left, length), min(right, length)


def owned_span(windows: list[tuple[int, int]], i: int, total: int) -> tuple[int, int]:
    """The part of the file window ``i`` speaks for in the figure: between the middles of its overlaps."""
    start, length = windows[i]
    begin = 0 if i == 0 else (start + sum(windows[i - 1])) // 2
    end = total if i + 1 == len(windows) else (windows[i + 1][0] + start + length) // 2
    return begin, end


# --------------------------------------------------------------------------------------------
# waveforms


def wav_format(frames: int, channels: int = 1, bytes_per_sample: int = 4) -> str:
    """WAV, or RF64 once the data would overflow RIFF's 32-bit sizes (about 18.6 h of mono float at 16 kHz)."""
    return "RF64" if frames * channels * bytes_per_sample > WAV_LIMIT_BYTES else "WAV"


def open_wav(path: Path, sample_rate: int, frames: int, subtype: str = "FLOAT") -> sf.SoundFile:
    """A mono WAV open for writing, with no PEAK chunk (it holds the write time)."""
    handle = sf.SoundFile(path, "w", samplerate=sample_rate, channels=1, subtype=subtype, format=wav_format(frames))
    sf._snd.sf_command(handle._file, SFC_SET_ADD_PEAK_CHUNK, sf._ffi.NULL, 0)  # before any sample is written
    return handle


class OverlapAdd:
    """Weighted overlap-add of per-window signals, streamed to one WAV per signal."""

    def __init__(self, paths: list[Path], total: int, sample_rate: int):
        self.total = total
        self.files = [open_wav(p, sample_rate, total) for p in paths]
        self.begin = 0  # first sample not yet written
        self.sums = np.zeros((len(paths), 0))  # weighted sums of [begin, begin + n)
        self.weights = np.zeros(0)

    def add(self, start: int, signals: list[np.ndarray], weight: np.ndarray, final: int) -> None:
        """Add windows' ``signals`` at ``start``; samples before ``final`` get no more windows and are written."""
        if start < self.begin:
            raise ValueError(f"window at {start} reaches back before sample {self.begin}, already written")
        end = start + weight.shape[0]
        grow = end - self.begin - self.weights.shape[0]
        if grow > 0:
            self.sums = np.pad(self.sums, ((0, 0), (0, grow)))
            self.weights = np.pad(self.weights, (0, grow))
        span = slice(start - self.begin, end - self.begin)
        for k, signal in enumerate(signals):
            self.sums[k, span] += weight * signal
        self.weights[span] += weight
        self._flush(min(final, self.total))

    def _flush(self, upto: int) -> None:
        n = upto - self.begin
        if n <= 0:
            return
        for handle, sums in zip(self.files, self.sums):
            handle.write((sums[:n] / self.weights[:n]).astype(np.float32))
        self.sums, self.weights = self.sums[:, n:], self.weights[n:]
        self.begin = upto

    def close(self) -> None:
        try:
            self._flush(self.total)
        finally:
            self.discard()

    def discard(self) -> None:
        """Close the files as they are (after a failure: the caller removes them)."""
        for handle in self.files:
            handle.close()


# --------------------------------------------------------------------------------------------
# the figure's spectrograms


class SpectrogramSummary:
    """Input, mask, masked-in and masked-out spectrograms of a whole file, mean-pooled over time."""

    def __init__(self, total: int, hop_length: int, n_freqs: int):
        frames = total // hop_length + 1
        self.hop_length = hop_length
        self.frames_per_column = max(1, math.ceil(frames / MAX_COLUMNS))
        columns = math.ceil(frames / self.frames_per_column)
        self.sums = np.zeros((4, columns, n_freqs), dtype=np.float32)
        self.counts = np.zeros(columns, dtype=np.int64)

    def add(self, start: int, owned: tuple[int, int], panels: list[np.ndarray]) -> None:
        """Add a window's [frames, bins] panels; only frames centred in ``owned`` (samples) count."""
        centres = start + np.arange(panels[0].shape[0]) * self.hop_length  # centred STFT
        keep = (centres >= owned[0]) & (centres < owned[1])
        columns = np.round(centres[keep] / self.hop_length).astype(np.int64) // self.frames_per_column
        columns = np.minimum(columns, self.counts.shape[0] - 1)
        for k, panel in enumerate(panels):
            np.add.at(self.sums[k], columns, panel[keep])
        np.add.at(self.counts, columns, 1)

    def panels(self) -> list[np.ndarray]:
        """The four [columns, bins] images; a column no frame fell into is NaN (drawn blank)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return [s / self.counts[:, None] for s in self.sums]


# --------------------------------------------------------------------------------------------
# temporary folders


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", socket.gethostname())[:32] or "host"


def make_temporary(out_dir: Path, name: str) -> Path:
    """A private folder for one file's outputs, named after this host and process."""
    return Path(tempfile.mkdtemp(prefix=f".{name}.{TEMP_TAG}-{_host()}-{os.getpid()}-", dir=out_dir))


TEMP_PATTERN = re.compile(rf"^\..+\.{TEMP_TAG}-(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)-[a-z0-9_]+$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _last_change(folder: Path) -> float:
    times = [folder.stat().st_mtime]
    for entry in folder.iterdir():
        try:
            times.append(entry.stat().st_mtime)
        except OSError:
            pass
    return max(times)


def is_stale(folder: Path, now: float | None = None) -> bool:
    """Whether ``folder`` is a temporary folder of an ``lmac explain`` that no longer runs.

    On this host: its process (pid in the name) has exited. Elsewhere (a shared file system),
    where that cannot be checked: nothing in it changed for :data:`STALE_AFTER_S` (a live run
    writes its WAVs as it goes). A pid reused by an unrelated process keeps a folder until then.
    """
    match = TEMP_PATTERN.match(folder.name)
    if match is None or not folder.is_dir() or folder.is_symlink():
        return False
    if match["host"] == _host() and not _pid_alive(int(match["pid"])):
        return True
    return (now or time.time()) - _last_change(folder) > STALE_AFTER_S


def remove_stale_temporaries(out_dir: Path) -> list[Path]:
    """Remove what killed ``lmac explain`` runs left in ``out_dir``; returns the folders removed."""
    removed = []
    for folder in sorted(out_dir.glob(f".*.{TEMP_TAG}-*")):
        if is_stale(folder):
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                removed.append(folder)
                log.info("explain: removed %s, left by an interrupted run", folder)
    return removed
