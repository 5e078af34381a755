"""The interferers of the evaluation conditions: background noise (in-domain) and speech.

Offline (the embedded default) they are generated: coloured noise and a speech-like source.
With the archives downloaded they are the reference's: WHAM! ``tr/`` noise and LJSpeech (its
first 10 000 files, as the reference's ``LJSPEECH_split``). Conditions draw per item with their
own generator, so the sources' seeds matter only for training-time ``draw``.
"""

from __future__ import annotations

from pathlib import Path

from ..data.audio_folder import AudioFolder
from ..data.noise import noise_source
from ..data.speech import SyntheticSpeech
from ..errors import LmacError

LJSPEECH_FILES = 10_000


def speech_source(kind: str, sample_rate: int, seed: int, ljspeech_dir: str | None = None):
    if kind == "synthetic":
        return SyntheticSpeech(sample_rate, seed)
    if kind == "ljspeech":
        if ljspeech_dir is None:
            raise LmacError("evaluation.speech: 'ljspeech' needs the downloaded LJSpeech folder")
        wavs = sorted(Path(ljspeech_dir).glob("**/wavs"))
        root = wavs[0] if wavs else Path(ljspeech_dir)
        return AudioFolder(root, sample_rate, offset="first", seed=seed, max_files=LJSPEECH_FILES)
    raise LmacError(f"evaluation.speech: unknown value '{kind}' (synthetic or ljspeech)")


def interferer_sources(condition: str, config: dict, wham_dir: str | None = None, ljspeech_dir: str | None = None):
    """(noise source, speech source) of one condition under the validated ``config`` (its ``noise``
    section and ``evaluation.speech``, at the dataset's sample rate, seeded by the run's seed); only
    the one the condition uses is built."""
    rate, seed = config["dataset"]["sample_rate"], config["seed"]
    noise = noise_source(config["noise"], wham_dir, rate, seed) if condition == "in_domain" else None
    speech = config["evaluation"]["speech"]
    talker = speech_source(speech, rate, seed, ljspeech_dir) if condition == "speech" else None
    return noise, talker
