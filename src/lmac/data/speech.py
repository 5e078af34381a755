"""A seeded speech-like signal: the offline stand-in for LJSpeech in the "speech" OOD condition.

The reference contaminates ESC-50 clips with LJSpeech utterances (docs/reproducibility_notes.md#evaluation-conditions). LJSpeech is a
2.6 GB download, so the embedded default run uses this **proxy** instead; when the LJSpeech
archive is present, ``lmac.data.audio_folder.AudioFolder`` over its ``wavs/`` is used and this
module plays no part. Results obtained with the proxy are not comparable with published
LJSpeech numbers; they only exercise the same question (does the explanation ignore overlapping
speech?).

What makes it speech-like rather than another sound event (a classic cascade formant synthesiser,
in the spirit of Klatt 1980):

* **voicing**: a glottal pulse train whose f0 glides slowly (a smooth random intonation contour
  around a per-clip speaker f0, kept in 90-250 Hz) with ~1 % period jitter and ~10 % shimmer, so
  the spectrogram shows many gently curving harmonics;
* **formants**: the pulses go through a cascade of four second-order resonators whose centre
  frequencies move between vowel targets (adult vowel formant averages, scaled per clip for vocal
  tract length) from syllable to syllable, with occasional diphthong glides; the harmonics are
  therefore shaped by moving spectral peaks;
* **syllables**: 3-6 syllables per second, each voiced nucleus under its own rise-fall envelope
  with a random stress level;
* **fricatives**: unvoiced bursts (band-passed noise: /s/-, /sh/- or /f/-like) before some
  syllables;
* **pauses** between phrases of 2-6 syllables.

This is unlike every class and distractor of ``data/synthetic.py``: the closest, ``harmonic_stack``,
is a steady, flat-f0 stack without formants, syllabic envelope or noise bursts.

Randomness: ``sample(length, generator)`` takes one 62-bit integer from the caller's
``torch.Generator`` and seeds a NumPy generator with it, so a clip depends only on that generator's
state (the same protocol as ``AudioFolder``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.signal import butter, lfilter, sosfilt

from ..errors import LmacError

# Formant targets F1-F4 in Hz (rounded adult averages after Peterson & Barney 1952).
VOWELS: dict[str, tuple[float, float, float, float]] = {
    "i": (280.0, 2250.0, 2900.0, 3700.0),
    "e": (480.0, 1950.0, 2600.0, 3600.0),
    "ae": (680.0, 1700.0, 2450.0, 3500.0),
    "a": (750.0, 1150.0, 2500.0, 3500.0),
    "o": (520.0, 900.0, 2450.0, 3400.0),
    "u": (320.0, 900.0, 2300.0, 3400.0),
    "er": (500.0, 1350.0, 1700.0, 3300.0),
    "uh": (600.0, 1200.0, 2450.0, 3450.0),
}
BANDWIDTHS = (70.0, 100.0, 150.0, 220.0)
# Fricative noise bands in Hz (upper edges are capped below Nyquist).
FRICATIVES: dict[str, tuple[float, float]] = {"s": (3800.0, 7500.0), "sh": (2000.0, 5500.0), "f": (1200.0, 7500.0)}
F0_RANGE = (90.0, 250.0)
SYLLABLE_RATE = (3.0, 6.0)
PEAK = 0.9
BLOCK_SECONDS = 0.005  # formant frequencies are updated every 5 ms


class SyntheticSpeech:
    """An endless, seeded source of speech-like clips (a proxy for LJSpeech; see the module doc)."""

    def __init__(self, sample_rate: int, seed: int = 0):
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate < 8000:
            raise LmacError(f"speech proxy: sample_rate = {sample_rate!r}: must be an integer >= 8000")
        self.sample_rate = sample_rate
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)

    def __repr__(self) -> str:
        return f"SyntheticSpeech({self.sample_rate}, seed={self.seed})"

    def sample(self, length: int, generator: torch.Generator) -> torch.Tensor:
        """One utterance of exactly ``length`` samples, [length] float32."""
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        wav = synthesise(np.random.default_rng(seed), length, self.sample_rate)
        return torch.from_numpy(wav.astype(np.float32))

    def draw(self, batch: int, length: int) -> torch.Tensor:
        """``batch`` utterances from the source's own seeded stream, [batch, length]."""
        return torch.stack([self.sample(length, self.generator) for _ in range(batch)])


# ---------------------------------------------------------------------------- synthesis


def synthesise(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """A float64 speech-like waveform of ``n`` samples, peak ``PEAK`` (silence stays silent)."""
    plan = _plan(rng, n, sr)
    f0 = _f0_contour(rng, n, sr)
    pulses = _pulse_train(rng, f0, sr)
    voiced = _formant_cascade(pulses * plan.voicing, plan.formant_knots, rng, n, sr)
    noise = _fricatives(rng, plan.fricatives, n, sr)
    # Fricatives sit 8-18 dB below the voiced nuclei, as in natural speech.
    v_rms = math.sqrt(float(np.mean(voiced[plan.voicing > 0.3] ** 2))) if np.any(plan.voicing > 0.3) else 1.0
    out = voiced + noise * v_rms
    peak = float(np.max(np.abs(out))) if n else 0.0
    return out * (PEAK / peak) if peak > 0 else out


class _Plan:
    """Where the voiced nuclei, fricatives and pauses go, and the formant targets over time."""

    def __init__(self, n: int):
        self.voicing = np.zeros(n)  # excitation gain per sample
        self.formant_knots: list[tuple[int, np.ndarray]] = []  # (sample, F1..F4)
        self.fricatives: list[tuple[int, int, str, float]] = []  # (start, stop, kind, level)


def _plan(rng: np.random.Generator, n: int, sr: int) -> _Plan:
    plan = _Plan(n)
    rate = rng.uniform(*SYLLABLE_RATE)
    tract = rng.uniform(0.9, 1.15)  # formant scale: shorter vocal tracts have higher formants
    names = list(VOWELS)
    current = np.array(VOWELS[names[rng.integers(len(names))]]) * tract
    t = int(rng.uniform(0.0, 0.2) * sr)  # leading silence
    plan.formant_knots.append((0, current))
    while t < n:
        for _ in range(int(rng.integers(2, 7))):  # one phrase
            syllable = int(sr / (rate * rng.uniform(0.8, 1.25)))
            start = t
            if rng.random() < 0.45:
                dur = int(rng.uniform(0.05, 0.12) * sr)
                kind = list(FRICATIVES)[rng.integers(len(FRICATIVES))]
                plan.fricatives.append((t, min(t + dur, n), kind, 10 ** (rng.uniform(-18, -8) / 20)))
                t += int(0.8 * dur)  # voicing starts just before the frication ends
            nucleus = max(syllable - (t - start), int(0.08 * sr))
            target = np.array(VOWELS[names[rng.integers(len(names))]]) * tract
            # formants glide from the previous vowel to this one over the first ~35 % of the nucleus
            plan.formant_knots.append((t, current))
            plan.formant_knots.append((t + int(0.35 * nucleus), target))
            end_target = target
            if rng.random() < 0.3:  # diphthong: keep gliding towards a second vowel
                end_target = np.array(VOWELS[names[rng.integers(len(names))]]) * tract
            plan.formant_knots.append((t + nucleus, end_target))
            current = end_target
            stop = min(t + nucleus, n)
            if stop > t:
                x = (np.arange(t, stop) - t) / nucleus
                plan.voicing[t:stop] = rng.uniform(0.5, 1.0) * np.sin(np.pi * x) ** 0.6
            t += nucleus
            if t >= n:
                break
        t += int(rng.uniform(0.12, 0.45) * sr)  # pause between phrases
    return plan


def _f0_contour(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Per-sample f0: a speaker's base f0 times a smooth random intonation (±~3 semitones)."""
    base = rng.uniform(100.0, 210.0)
    step = int(0.25 * sr)
    knots_t = np.arange(0, n + step, step)
    semitones = rng.normal(0.0, 1.5, knots_t.size) - np.linspace(0.0, 1.0, knots_t.size)  # slight declination
    # cosine interpolation between knots: smooth glides, no corners
    idx = np.minimum(np.arange(n) // step, knots_t.size - 2)
    frac = (np.arange(n) - knots_t[idx]) / step
    w = 0.5 - 0.5 * np.cos(np.pi * frac)
    st = semitones[idx] * (1 - w) + semitones[idx + 1] * w
    return np.clip(base * 2.0 ** (st / 12.0), *F0_RANGE)


def _pulse_train(rng: np.random.Generator, f0: np.ndarray, sr: int) -> np.ndarray:
    """Glottal excitation: jittered, shimmered impulses, low-passed to a -6 dB/octave source."""
    n = f0.size
    pulses = np.zeros(n)
    pos = float(rng.uniform(0.0, sr / f0[0])) if n else 0.0
    while pos < n:
        i = int(pos)
        pulses[i] += 1.0 + rng.normal(0.0, 0.1)  # shimmer
        pos += sr / f0[i] * (1.0 + rng.normal(0.0, 0.01))  # jitter
    return lfilter([1.0], [1.0, -0.97], pulses)


def _formant_cascade(
    x: np.ndarray, knots: list[tuple[int, np.ndarray]], rng: np.random.Generator, n: int, sr: int
) -> np.ndarray:
    """Pass ``x`` through four time-varying resonators in cascade (updated every 5 ms)."""
    block = max(int(round(BLOCK_SECONDS * sr)), 1)
    centres = np.arange(0, n, block) + block / 2
    times = np.array([k[0] for k in knots], dtype=float)
    values = np.stack([k[1] for k in knots])
    order = np.argsort(times, kind="stable")
    times, values = times[order], values[order]
    bws = np.array(BANDWIDTHS) * rng.uniform(0.85, 1.2)
    y = x
    for k in range(values.shape[1]):
        track = np.minimum(np.interp(centres, times, values[:, k]), 0.45 * sr)
        y = _resonate(y, track, float(bws[k]), sr, block)
    return y


def _resonate(x: np.ndarray, freqs: np.ndarray, bw: float, sr: int, block: int) -> np.ndarray:
    """Klatt's digital resonator y[n] = A x[n] + B y[n-1] + C y[n-2] (unity gain at DC), with B
    and A recomputed per block; the two past outputs carry over, so coefficient changes do not
    reset the filter."""
    out = np.empty_like(x)
    c = -math.exp(-2 * math.pi * bw / sr)
    r = math.exp(-math.pi * bw / sr)
    y1 = y2 = 0.0
    for b, f in enumerate(freqs):
        seg = slice(b * block, (b + 1) * block)
        bc = 2 * r * math.cos(2 * math.pi * f / sr)
        a = 1.0 - bc - c
        # lfilter's transposed direct-form state for the all-pole section, from the last outputs
        yb, _ = lfilter([a], [1.0, -bc, -c], x[seg], zi=[bc * y1 + c * y2, c * y1])
        out[seg] = yb
        if yb.size >= 2:
            y1, y2 = float(yb[-1]), float(yb[-2])
        elif yb.size == 1:
            y1, y2 = float(yb[-1]), y1
    return out


def _fricatives(rng: np.random.Generator, bursts: list[tuple[int, int, str, float]], n: int, sr: int) -> np.ndarray:
    """Band-passed noise bursts with 15 ms raised-cosine ramps, at unit RMS times their level."""
    out = np.zeros(n)
    for start, stop, kind, level in bursts:
        m = stop - start
        if m <= 0:
            continue
        lo, hi = FRICATIVES[kind]
        hi = min(hi, 0.45 * sr)
        lo = min(lo, 0.5 * hi)
        sos = butter(4, [lo, hi], btype="bandpass", fs=sr, output="sos")
        noise = sosfilt(sos, rng.standard_normal(m + 256))[256:]  # drop the filter's start-up
        noise /= math.sqrt(float(np.mean(noise**2))) + 1e-12
        k = min(int(0.015 * sr), m // 2)
        env = np.ones(m)
        if k > 0:
            ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(k) + 0.5) / k)
            env[:k], env[m - k :] = ramp, ramp[::-1]
        out[start:stop] += level * env * noise
    return out
