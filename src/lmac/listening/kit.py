"""The listening-test kit: a self-contained, offline MUSHRA (ITU-R BS.1534) or MOS (ACR) test of a run's explanations.

A trial is one example clip of one condition, as in webMUSHRA's ``mushra`` page: the open reference
(the clean target), a hidden reference (the same sound, unlabelled), a low-pass anchor (the reference
low-passed at ``anchor_hz``, BS.1534-3's 3.5 kHz low anchor) and every tested method's listenable
explanation, all on one common gain per trial (:func:`lmac.listening.audio.common_gain`). The
participant's page (``index.html``, every sound embedded) needs no server: it draws the trial order and
each trial's stimulus order from a generator seeded by the kit's seed and the participant's name, shows
the stimuli as letters, and saves the ratings as a CSV file the participant sends back. ``trials.csv``
lists what each trial holds; the WAV files are written beside it. Where the kit departs from BS.1534
and webMUSHRA: docs/listening.md.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import butter, sosfiltfilt

from ..errors import LmacError
from ..io import write_csv, write_text
from .audio import LEVELS_TEXT, SAMPLE_RATE, common_gain, data_uri, load_condition, shared_clips, wav_bytes
from .page import write_sounds

MODES = ("mushra", "mos")
REFERENCE, ANCHOR = "reference", "anchor"


@dataclass(frozen=True)
class KitSettings:
    mode: str = "mushra"
    clips: int = 3  # trials per condition
    anchor_hz: float = 3500.0
    seed: int = 0

    def __post_init__(self):
        if self.mode not in MODES:
            raise LmacError(f"listening test: mode {self.mode!r} is not one of {', '.join(MODES)}")
        if not 0 < self.anchor_hz < SAMPLE_RATE / 2:
            raise LmacError(f"listening test: anchor_hz {self.anchor_hz} is not between 0 and {SAMPLE_RATE // 2} Hz")


def low_pass(wav: np.ndarray, cutoff_hz: float) -> np.ndarray:
    """``wav`` low-passed at ``cutoff_hz`` (8th-order Butterworth, zero phase): the BS.1534 anchor."""
    sos = butter(8, cutoff_hz, "low", fs=SAMPLE_RATE, output="sos")
    return sosfiltfilt(sos, wav).astype(np.float32)


def trial_sounds(loaded, clip: str, source: str, anchor_hz: float) -> dict[str, np.ndarray]:
    """{stimulus: waveform} of one trial on its common gain: the reference, the anchor, every method."""
    first = next(iter(loaded.values()))
    reference = first.target[first.index(clip, source)]
    sounds = {REFERENCE: reference, ANCHOR: low_pass(reference, anchor_hz)}
    sounds.update({m: e.explanation[e.index(clip, source)] for m, e in loaded.items()})
    gain = common_gain(list(sounds.values()))
    return {name: wav * gain for name, wav in sounds.items()}


def build_trials(
    explanations: Mapping[str, Mapping[str, str]], settings: KitSettings, audio_dir: Path
) -> tuple[list[dict], pd.DataFrame]:
    """(the page's trials, the trials table) of {condition: {method: npz}}; sounds written under ``audio_dir``."""
    trials, rows = [], []
    for condition, paths in explanations.items():
        if reserved := {REFERENCE, ANCHOR} & set(paths):
            raise LmacError(f"listening test: a method may not be called {', '.join(sorted(reserved))}")
        loaded = load_condition(paths)
        source = f"listening test, condition {condition}"
        for clip in shared_clips(loaded, settings.clips, source):
            sounds = trial_sounds(loaded, clip, source, settings.anchor_hz)
            write_sounds(audio_dir / condition / clip, sounds)
            trial_id = f"{condition}/{clip}"
            trials.append(
                {
                    "id": trial_id,
                    "condition": condition,
                    "clip": clip,
                    "seconds": round(sounds[REFERENCE].shape[-1] / SAMPLE_RATE, 4),
                    "sounds": {name: data_uri(wav_bytes(wav), "audio/wav") for name, wav in sounds.items()},
                }
            )
            rows += [
                {
                    "trial": trial_id,
                    "condition": condition,
                    "clip": clip,
                    "stimulus": name,
                    "role": name if name in (REFERENCE, ANCHOR) else "method",
                    "seconds": round(wav.shape[-1] / SAMPLE_RATE, 4),
                    "file": f"audio/{condition}/{clip}/{name}.wav",
                }
                for name, wav in sounds.items()
            ]
    if not trials:
        raise LmacError("listening test: no trial (no condition given)")
    return trials, pd.DataFrame(rows)


def kit_page(trials: Sequence[dict], settings: KitSettings, title: str) -> str:
    """The participant's page: the template with the trials, the mode and the seed filled in."""
    template = files(__package__).joinpath("kit.html").read_text(encoding="utf-8")
    script = files(__package__).joinpath("kit.js").read_text(encoding="utf-8")
    data = {"mode": settings.mode, "seed": settings.seed, "trials": list(trials), "levels": LEVELS_TEXT}
    # "</" inside the JSON would end the <script> element early
    payload = json.dumps(data).replace("</", "<\\/")
    return template.replace("{{TITLE}}", html.escape(title)).replace("{{DATA}}", payload).replace("{{SCRIPT}}", script)


def write_listening_test(
    explanations: Mapping[str, Mapping[str, str]],
    settings: KitSettings,
    out_html: str | os.PathLike,
    out_trials: str | os.PathLike,
    audio_dir: str | os.PathLike,
    title: str = "Listening test",
) -> pd.DataFrame:
    """The kit of ``explanations`` ({condition: {method: npz}}): the page, its trials table and WAV files."""
    if not explanations or not all(explanations.values()):
        raise LmacError("listening test: give at least one condition and one method")
    audio_dir = Path(audio_dir)
    audio_dir.mkdir(parents=True, exist_ok=True)
    trials, table = build_trials(explanations, settings, audio_dir)
    write_text(out_html, kit_page(trials, settings, title))
    write_csv(out_trials, table)
    return table
