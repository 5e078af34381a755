"""A seeded synthetic sound-event dataset in ESC-50's on-disk layout, with ground truth.

Why it exists: the embedded default run must work offline on a CPU in minutes, yet still
exercise every stage (classifier, L-MAC, faithfulness metrics) on data where the *right*
explanation is known. Each clip holds one class-defining event over coloured background noise
plus distractor events that belong to no class, and we keep the isolated event's time-frequency
mask so explanations can be scored against it.

Because the files follow ESC-50's layout exactly, one loader serves this and the real ESC-50::

    OUT/audio/{fold}-{src_file}-{take}-{target}.wav     mono PCM_16
    OUT/meta/esc50.csv                                  ESC-50's columns, in ESC-50's order
    OUT/meta/ground_truth.csv                           event span, frequency extent, SNR
    OUT/meta/ground_truth_masks.npz                     bool [T_frames, F_bins] per clip

Design choices (why the classes look the way they do):

* The class types differ in *both* their frequency region and their temporal pattern (stationary,
  sweeping, modulated, gated, impulsive, noisy), so a small CNN on log-mel spectrograms can
  separate them reliably even with random per-clip parameters; the tonal classes (pure, AM, FM,
  pulsed) sit in disjoint carrier bands because the tiny default classifier cannot be relied on
  to resolve modulation alone.
* Distractors (low decaying thumps, irregular broadband crackle, inharmonic decaying bells) are
  short and shaped unlike any class, so they are nuisance the classifier must learn to ignore -
  which is what makes "does the explanation point at the event?" a meaningful question.
* Every clip draws from its own generator ``default_rng([seed, clip_index])``, so a clip does not
  depend on how many clips were generated before it, and the same seed and configuration give
  byte-identical files (the mask archive is written with fixed zip timestamps for that reason;
  ``np.savez_compressed`` stamps the current time into it).
* The output directory is built as a sibling ``OUT.tmp-XXXX`` and renamed onto ``OUT`` only at
  the end, so an interrupted run never leaves a directory that looks finished.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .. import io as lio
from ..errors import LmacError
from ..frontend import FrontEnd, FrontEndConfig
from ..yaml_inputs import check, fill_defaults, key_error, load_schema, subschema

# Names double as ESC-50 "category" values; list order is the target index.
EVENT_TYPES: list[str] = [
    "pure_tone",
    "rising_chirp",
    "falling_chirp",
    "am_tone",
    "fm_tone",
    "low_noise_burst",
    "high_noise_burst",
    "click_train",
    "harmonic_stack",
    "pulsed_tone",
]
DISTRACTOR_TYPES: list[str] = ["thump", "crackle", "bell"]

ESC50_COLUMNS = ["filename", "fold", "target", "category", "esc10", "src_file", "take"]
GROUND_TRUTH_COLUMNS = [
    "filename",
    "target",
    "category",
    "onset_s",
    "offset_s",
    "f_low_hz",
    "f_high_hz",
    "event_snr_db",
    "n_distractors",
]

# The highest class band (high_noise_burst) reaches 7.5 kHz, so Nyquist must be above it.
MIN_SAMPLE_RATE = 16000
# Shorter events would be mostly fade and span only a couple of STFT frames.
MIN_EVENT_SECONDS = 0.05
FADE_SECONDS = 0.005
PEAK = 0.9
# Mask threshold: bins more than 40 dB below the event's own maximum are not "the event".
MASK_FLOOR_DB = -40.0
SRC_FILE_BASE = 100000  # src_file = SRC_FILE_BASE + clip index: 6 digits, unique per clip
# Fixed zip member timestamp (the earliest zip can store) so the .npz is byte-reproducible.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


# ---------------------------------------------------------------------------- configuration

SOURCE = "synthetic dataset"


@dataclass(frozen=True)
class _Spec:
    n_classes: int
    clips_per_class: int
    n_folds: int
    clip_seconds: float
    sample_rate: int
    event_seconds: tuple[float, float]
    event_snr_db: tuple[float, float]
    n_distractors: tuple[int, int]
    distractor_snr_db: tuple[float, float]

    @property
    def n_samples(self) -> int:
        return int(round(self.clip_seconds * self.sample_rate))


def _bad(key: str, value, why: str) -> LmacError:
    return key_error(SOURCE, key, f"{value!r}: {why}")


def settings_schema() -> dict:
    """The config schema's ``dataset.synthetic`` with the dataset's ``sample_rate`` and ``clip_seconds``.

    The generator takes those two with the synthetic settings; their types, limits and defaults are the
    workflow config's, read from its schema, so the two cannot drift apart.
    """
    schema = subschema(load_schema("config"), "dataset", "synthetic")
    dataset = subschema(load_schema("config"), "dataset")["properties"]
    schema["properties"] = {**schema["properties"], **{k: dataset[k] for k in ("sample_rate", "clip_seconds")}}
    return schema


def _range(cfg: dict, key: str, kind: type) -> tuple:
    lo, hi = (kind(v) for v in cfg[key])  # the schema allows 2.0 for an integer
    if lo > hi:
        raise _bad(key, cfg[key], "low must not exceed high")
    return lo, hi


def _validate(cfg: dict | None, frontend: FrontEndConfig) -> _Spec:
    """The settings checked against the schema (an unknown key too: a misspelt one would fall back to its
    default) and completed with its defaults, then the limits the generator itself sets."""
    schema = settings_schema()
    cfg = dict(cfg or {})
    check(cfg, schema, SOURCE)
    cfg = fill_defaults(cfg, schema)
    if cfg["clips_per_class"] % cfg["n_folds"]:
        raise _bad("clips_per_class", cfg["clips_per_class"], f"must be a multiple of n_folds ({cfg['n_folds']})")
    if cfg["n_classes"] * cfg["clips_per_class"] > 999999 - SRC_FILE_BASE + 1:
        raise _bad("clips_per_class", cfg["clips_per_class"], "too many clips for 6-digit src_file ids")
    if cfg["sample_rate"] < MIN_SAMPLE_RATE:
        raise _bad("sample_rate", cfg["sample_rate"], f"must be >= {MIN_SAMPLE_RATE}")
    if frontend.sample_rate != cfg["sample_rate"]:
        raise _bad(
            "sample_rate", cfg["sample_rate"], f"differs from the front end's sample_rate ({frontend.sample_rate})"
        )
    ranges = {k: _range(cfg, k, float) for k in ("event_seconds", "event_snr_db", "distractor_snr_db")}
    ranges["n_distractors"] = _range(cfg, "n_distractors", int)
    if ranges["event_seconds"][0] < MIN_EVENT_SECONDS:
        raise _bad("event_seconds", cfg["event_seconds"], f"events must last at least {MIN_EVENT_SECONDS} s")
    if cfg["clip_seconds"] < ranges["event_seconds"][1]:
        raise _bad(
            "clip_seconds",
            cfg["clip_seconds"],
            f"must be at least the longest event ({ranges['event_seconds'][1]} s, event_seconds)",
        )
    numbers = {k: int(cfg[k]) for k in ("n_classes", "clips_per_class", "n_folds", "sample_rate")}
    return _Spec(clip_seconds=float(cfg["clip_seconds"]), **numbers, **ranges)


# ---------------------------------------------------------------------------- signal helpers


def _fade(wav: np.ndarray, sr: int, fade_in: float = FADE_SECONDS, fade_out: float = FADE_SECONDS) -> np.ndarray:
    """Raised-cosine ramps, so event edges do not add broadband clicks to the spectrogram."""
    n = wav.shape[0]
    k_in = min(int(round(fade_in * sr)), n // 4)
    k_out = min(int(round(fade_out * sr)), n // 4)
    if k_in > 0:
        wav[:k_in] *= 0.5 - 0.5 * np.cos(np.pi * (np.arange(k_in) + 0.5) / k_in)
    if k_out > 0:
        wav[n - k_out :] *= 0.5 + 0.5 * np.cos(np.pi * (np.arange(k_out) + 0.5) / k_out)
    return wav


def _band_noise(rng: np.random.Generator, n: int, sr: int, lo: float, hi: float) -> np.ndarray:
    """White noise with everything outside [lo, hi] Hz removed in the frequency domain."""
    spec = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / sr)
    spec[(freqs < lo) | (freqs > hi)] = 0.0
    return np.fft.irfft(spec, n)


def _coloured_noise(rng: np.random.Generator, n: int, sr: int, exponent: float) -> np.ndarray:
    """Noise whose power falls as 1/f**exponent above 20 Hz (flat below, to avoid DC drift)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    freqs = np.maximum(np.fft.rfftfreq(n, 1.0 / sr), 20.0)
    spec *= freqs ** (-exponent / 2)
    spec[0] = 0.0
    wav = np.fft.irfft(spec, n)
    return wav / np.sqrt(np.mean(wav**2))


def _power(x: np.ndarray) -> float:
    return float(np.mean(x**2)) + 1e-20


# ---------------------------------------------------------------------------- class events
# Each takes (rng, n_samples, sample_rate) and returns (waveform, f_low_hz, f_high_hz): the
# nominal frequency extent of the event, recorded in ground_truth.csv.

EventFn = Callable[[np.random.Generator, int, int], tuple[np.ndarray, float, float]]


def _time(n: int, sr: int) -> np.ndarray:
    return np.arange(n) / sr


def _pure_tone(rng, n, sr):
    f = rng.uniform(500, 1000)
    return np.sin(2 * np.pi * f * _time(n, sr) + rng.uniform(0, 2 * np.pi)), f, f


def _sweep(f0: float, f1: float, n: int, sr: int, phase0: float) -> np.ndarray:
    """Exponential sweep f0 → f1 over n samples (equal time per octave, like a natural glide)."""
    t = _time(n, sr)
    dur = n / sr
    k = math.log(f1 / f0)
    return np.sin(2 * np.pi * f0 * dur / k * (np.exp(k * t / dur) - 1.0) + phase0)


def _rising_chirp(rng, n, sr):
    f0 = rng.uniform(300, 600)
    f1 = f0 * rng.uniform(3, 5)
    return _sweep(f0, f1, n, sr, rng.uniform(0, 2 * np.pi)), f0, f1


def _falling_chirp(rng, n, sr):
    f0 = rng.uniform(2000, 4000)
    f1 = f0 / rng.uniform(3, 5)
    return _sweep(f0, f1, n, sr, rng.uniform(0, 2 * np.pi)), f1, f0


def _am_tone(rng, n, sr):
    fc, rate, depth = rng.uniform(1000, 1600), rng.uniform(8, 16), rng.uniform(0.8, 1.0)
    t = _time(n, sr)
    env = 1.0 - depth * (0.5 - 0.5 * np.cos(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi)))
    return env * np.sin(2 * np.pi * fc * t + rng.uniform(0, 2 * np.pi)), fc - rate, fc + rate


def _fm_tone(rng, n, sr):
    fc, rate, depth = rng.uniform(1600, 2500), rng.uniform(5, 8), rng.uniform(0.05, 0.1)
    t = _time(n, sr)
    # Instantaneous frequency fc·(1 + depth·cos(2π·rate·t)): vibrato of ±depth around fc.
    phase = 2 * np.pi * fc * t + depth * fc / rate * np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi))
    return np.sin(phase + rng.uniform(0, 2 * np.pi)), fc * (1 - depth), fc * (1 + depth)


def _low_noise_burst(rng, n, sr):
    lo, hi = rng.uniform(100, 250), rng.uniform(500, 800)
    return _band_noise(rng, n, sr, lo, hi), lo, hi


def _high_noise_burst(rng, n, sr):
    lo, hi = rng.uniform(4000, 5000), rng.uniform(6000, 7500)
    return _band_noise(rng, n, sr, lo, hi), lo, hi


def _click_train(rng, n, sr):
    """Regular clicks, each a damped resonance at fc: vertical stripes centred on fc."""
    rate, fc, tau = rng.uniform(15, 40), rng.uniform(2500, 4000), rng.uniform(0.3e-3, 0.8e-3)
    period = sr / rate
    starts = np.arange(int(round(0.002 * sr)), n, period).astype(int)
    impulses = np.zeros(n)
    impulses[starts] = rng.uniform(0.8, 1.0, starts.size)  # near-constant: "regular" is the cue
    tk = _time(int(math.ceil(6 * tau * sr)), sr)
    kernel = np.exp(-tk / tau) * np.sin(2 * np.pi * fc * tk)
    wav = np.convolve(impulses, kernel)[:n]
    # Nominal extent: where the resonance's Lorentzian magnitude is within ~10 dB of its peak.
    half_width = 3.0 / (2 * np.pi * tau)
    return wav, max(fc - half_width, 0.0), min(fc + half_width, sr / 2)


def _harmonic_stack(rng, n, sr):
    f0 = rng.uniform(150, 300)
    k = np.arange(1, int(rng.integers(6, 11)) + 1)
    k = k[k * f0 < 0.45 * sr]
    amps = 1.0 / k ** rng.uniform(0.5, 1.0)
    phases = rng.uniform(0, 2 * np.pi, k.size)
    wav = amps @ np.sin(2 * np.pi * f0 * np.outer(k, _time(n, sr)) + phases[:, None])
    return wav, f0, f0 * k[-1]


def _pulsed_tone(rng, n, sr):
    """A beeping tone: hard on/off gating with 5 ms ramps; starts 'on' so short events still beep."""
    f, rate, duty = rng.uniform(2500, 3500), rng.uniform(3, 6), rng.uniform(0.4, 0.6)
    t = _time(n, sr)
    gate = ((t * rate) % 1.0 < duty).astype(float)
    k = max(int(round(FADE_SECONDS * sr)), 1)
    gate = np.convolve(gate, np.hanning(k + 2)[1:-1] / np.hanning(k + 2)[1:-1].sum(), mode="same")
    return gate * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)), f, f


_EVENTS: dict[str, EventFn] = {
    "pure_tone": _pure_tone,
    "rising_chirp": _rising_chirp,
    "falling_chirp": _falling_chirp,
    "am_tone": _am_tone,
    "fm_tone": _fm_tone,
    "low_noise_burst": _low_noise_burst,
    "high_noise_burst": _high_noise_burst,
    "click_train": _click_train,
    "harmonic_stack": _harmonic_stack,
    "pulsed_tone": _pulsed_tone,
}
assert list(_EVENTS) == EVENT_TYPES


# ---------------------------------------------------------------------------- distractors
# Short, decaying and shaped unlike any class: they add realistic clutter without ever being
# evidence for a class. Each takes (rng, max_samples, sample_rate) and returns a waveform.


def _thump(rng, max_n, sr):
    n = min(int(rng.uniform(0.06, 0.14) * sr), max_n)
    t = _time(n, sr)
    wav = np.exp(-t / rng.uniform(0.015, 0.035)) * np.sin(2 * np.pi * rng.uniform(50, 120) * t)
    return _fade(wav, sr, fade_in=0.002, fade_out=0.01)


def _crackle(rng, max_n, sr):
    n = min(int(rng.uniform(0.1, 0.3) * sr), max_n)
    count = max(int(rng.poisson(rng.uniform(150, 400) * n / sr)), 1)
    impulses = np.zeros(n)
    # Irregular: random positions, random signs, widely spread (log-normal) amplitudes.
    np.add.at(impulses, rng.integers(0, n, count), rng.choice([-1.0, 1.0], count) * rng.lognormal(0, 0.7, count))
    tk = _time(max(int(0.0015 * sr), 1), sr)
    kernel = rng.standard_normal(tk.size) * np.exp(-tk / 0.0003)  # ~1 ms noise grain: broadband
    return _fade(np.convolve(impulses, kernel)[:n], sr, fade_in=0.001, fade_out=0.005)


# Partial ratios of a free bar: clearly inharmonic, unlike harmonic_stack.
_BELL_RATIOS = np.array([1.0, 2.76, 5.40, 8.93])


def _bell(rng, max_n, sr):
    f0 = rng.uniform(400, 1200)
    tau = rng.uniform(0.04, 0.1)
    n = min(int(min(5 * tau, 0.5) * sr), max_n)
    ratios = _BELL_RATIOS * (1 + rng.uniform(-0.03, 0.03, _BELL_RATIOS.size))
    keep = ratios * f0 < 0.45 * sr
    ratios = ratios[keep]
    amps = np.array([1.0, 0.7, 0.5, 0.35])[keep]
    taus = tau / (1 + 0.5 * np.arange(ratios.size))  # higher partials die faster
    t = _time(n, sr)
    partials = np.exp(-t[None, :] / taus[:, None]) * np.sin(
        2 * np.pi * f0 * ratios[:, None] * t[None, :] + rng.uniform(0, 2 * np.pi, (ratios.size, 1))
    )
    return _fade(amps @ partials, sr, fade_in=0.002, fade_out=0.01)


_DISTRACTORS: dict[str, Callable[[np.random.Generator, int, int], np.ndarray]] = {
    "thump": _thump,
    "crackle": _crackle,
    "bell": _bell,
}
assert list(_DISTRACTORS) == DISTRACTOR_TYPES


# ---------------------------------------------------------------------------- one clip


@dataclass
class _Clip:
    wav: np.ndarray  # the final mixture, peak-normalised
    event: np.ndarray  # the isolated class event, same length and gain as in wav
    rest: np.ndarray  # background + distractors, same gain
    onset: int  # samples
    offset: int  # samples, exclusive
    f_low: float
    f_high: float
    snr_db: float
    n_distractors: int


def _make_clip(spec: _Spec, target: int, rng: np.random.Generator) -> _Clip:
    sr, n = spec.sample_rate, spec.n_samples
    # Background: pink or brown, so the classifier cannot key on one fixed noise floor.
    rest = _coloured_noise(rng, n, sr, exponent=float(rng.choice([1.0, 2.0])))
    background = rest.copy()

    n_event = int(round(rng.uniform(*spec.event_seconds) * sr))
    n_event = min(max(n_event, 1), n)
    raw, f_low, f_high = _EVENTS[EVENT_TYPES[target]](rng, n_event, sr)
    raw = _fade(raw, sr)
    onset = int(rng.integers(0, n - n_event + 1))
    offset = onset + n_event
    snr_db = float(rng.uniform(*spec.event_snr_db))
    # Level relative to the background over the event's own span (energy ratio).
    gain = math.sqrt(_power(background[onset:offset]) * 10 ** (snr_db / 10) / _power(raw))
    event = np.zeros(n)
    event[onset:offset] = gain * raw

    n_distractors = int(rng.integers(spec.n_distractors[0], spec.n_distractors[1] + 1))
    for _ in range(n_distractors):
        d = _DISTRACTORS[DISTRACTOR_TYPES[int(rng.integers(len(DISTRACTOR_TYPES)))]](rng, n, sr)
        start = int(rng.integers(0, n - d.size + 1))
        d_snr = rng.uniform(*spec.distractor_snr_db)
        d_gain = math.sqrt(_power(background[start : start + d.size]) * 10 ** (d_snr / 10) / _power(d))
        rest[start : start + d.size] += d_gain * d

    mix = event + rest
    scale = PEAK / max(float(np.max(np.abs(mix))), 1e-12)
    return _Clip(
        mix * scale, event * scale, rest * scale, onset, offset, float(f_low), float(f_high), snr_db, n_distractors
    )


def _event_mask(fe: FrontEnd, clip: _Clip) -> np.ndarray:
    """Ideal binary mask of the class event on the front end's STFT grid, [T, F] bool.

    A bin belongs to the event where the event is louder than everything else (background +
    distractors) *and* within 40 dB of the event's own peak; only frames whose centre lies in
    [onset, offset] count, so window leakage before/after the event is not credited to it.
    """
    with torch.no_grad():
        spec = fe.stft(torch.from_numpy(np.stack([clip.event, clip.rest])))
        mag = FrontEnd.magnitude(spec).numpy()
    event, rest = mag[0], mag[1]
    mask = (event > rest) & (event >= event.max() * 10 ** (MASK_FLOOR_DB / 20))
    hop = fe.cfg.hop_length
    # Frame t is centred on sample t*hop (centred STFT).
    first = -(-clip.onset // hop)
    last = (clip.offset - 1) // hop
    mask[:first] = False
    mask[last + 1 :] = False
    return mask


# ---------------------------------------------------------------------------- output


def _write_npy_member(zf: zipfile.ZipFile, key: str, array: np.ndarray) -> None:
    """Add one array to an open .npz (zip) with a fixed timestamp, as np.load expects it."""
    info = zipfile.ZipInfo(key + ".npy", date_time=_ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    with zf.open(info, "w", force_zip64=True) as fh:
        np.lib.format.write_array(fh, np.ascontiguousarray(array), allow_pickle=False)


def _replace_dir(tmp: Path, out: Path) -> None:
    """Move the finished ``tmp`` onto ``out``; a stale ``out`` is removed only now."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise LmacError(f"{out}: exists and is not a directory")
    if out.exists():
        # Rename first so the slow rmtree happens after the new data is in place.
        trash = Path(tempfile.mkdtemp(prefix=f"{out.name}.old-", dir=out.parent))
        os.replace(out, trash / out.name)
        try:
            os.replace(tmp, out)
        except BaseException:
            os.replace(trash / out.name, out)  # put the previous output back
            trash.rmdir()
            raise
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(tmp, out)


def generate_synthetic_dataset(out_dir, cfg: dict, frontend: FrontEndConfig, seed: int) -> None:
    """Write the synthetic dataset to ``out_dir`` (see the module docstring for the layout).

    ``cfg`` keys (those of the config schema's ``dataset.synthetic``, with ``sample_rate`` and
    ``clip_seconds``; defaults and limits from there) are validated up front; a bad value raises
    :class:`LmacError` naming the key. ``frontend`` fixes the STFT grid of the ground-truth masks
    and must share ``cfg["sample_rate"]``. Same ``seed`` and ``cfg`` → byte-identical files.
    """
    if isinstance(frontend, dict):
        frontend = FrontEndConfig.from_dict(frontend)
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise LmacError(f"synthetic dataset: seed = {seed!r}: must be a non-negative integer")
    spec = _validate(cfg, frontend)
    try:
        fe = FrontEnd(frontend).double()  # float64: mask decisions should not hinge on rounding
    except ValueError as err:
        raise LmacError(f"synthetic dataset: front end: {err}") from None

    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{out.name}.tmp-", dir=out.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; the finished dataset should not be
        (tmp / "audio").mkdir()
        (tmp / "meta").mkdir()
        meta, truth = [], []
        per_fold = spec.clips_per_class // spec.n_folds
        with zipfile.ZipFile(tmp / "meta" / "ground_truth_masks.npz", "w", compression=zipfile.ZIP_DEFLATED) as masks:
            index = 0
            for fold in range(1, spec.n_folds + 1):
                for target in range(spec.n_classes):
                    for _ in range(per_fold):
                        clip = _make_clip(spec, target, np.random.default_rng([seed, index]))
                        src_file = SRC_FILE_BASE + index
                        stem = f"{fold}-{src_file}-A-{target}"
                        filename = stem + ".wav"
                        category = EVENT_TYPES[target]
                        lio.write_wav(tmp / "audio" / filename, clip.wav, spec.sample_rate)
                        _write_npy_member(masks, stem, _event_mask(fe, clip))
                        meta.append((filename, fold, target, category, False, src_file, "A"))
                        truth.append(
                            (
                                filename,
                                target,
                                category,
                                round(clip.onset / spec.sample_rate, 6),
                                round(clip.offset / spec.sample_rate, 6),
                                round(clip.f_low, 3),
                                round(clip.f_high, 3),
                                round(clip.snr_db, 3),
                                clip.n_distractors,
                            )
                        )
                        index += 1
        lio.write_csv(tmp / "meta" / "esc50.csv", pd.DataFrame(meta, columns=ESC50_COLUMNS))
        lio.write_csv(tmp / "meta" / "ground_truth.csv", pd.DataFrame(truth, columns=GROUND_TRUTH_COLUMNS))
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
