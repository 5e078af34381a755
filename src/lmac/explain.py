"""``lmac explain``: explain a trained classifier's decision on any audio file, with a listenable result.

For each input ``NAME`` the output folder receives

- ``NAME.explanation.wav``: the explainer's ``waveform``, i.e. the masked-in spectrogram with the
  input's phase, inverse STFT, exactly the (resampled) input's length, at the classifier's rate;
- ``NAME.masked_out.wav``: what the explanation removes, resynthesised the same way;
- ``NAME.png``: input spectrogram, mask, masked-in and masked-out spectrograms, top-k probabilities;
- ``NAME.json``: input, sample rates, duration, prediction, top-k probabilities, the explainer and
  checkpoints used, and every metric that needs no ground truth, for this one clip.

Input is prepared as the training data were (``lmac.data.prepare``): downmix by averaging the
channels, resample with ``torchaudio.transforms.Resample`` to the classifier's rate, then per-clip
peak normalisation (``peak_abs``: x / max|x| by default; a silent clip is left as it is). Unlike
training data, clips are neither cropped nor padded: the classifier and explainer take any length
of at least 32 STFT frames (CNN14's five 2×2 poolings), and never less than one STFT window.

Every input and both checkpoints are checked before anything is written, so a bad file among many
fails the run with one line and leaves no outputs. Each file's four outputs are written into a
hidden temporary folder inside the output folder and then renamed into place (the JSON last), so
an interrupted run never leaves a half-written file.

WAVs are written as 32-bit float: no clipping, and the explanation keeps the input's level, so
listening to the input, the explanation and the masked-out part compares like with like.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from . import __version__
from .classifier.cnn14 import MIN_FRAMES
from .classifier.model import AudioClassifier, load_classifier
from .data.download import sha256_file
from .data.prepare import NORMALISATIONS, normalise_peak
from .errors import LmacError
from .evaluation.metrics import all_metrics
from .io import read_audio, write_json, write_wav
from .training import pick_device

log = logging.getLogger("lmac.explain")

#: The models ``make reproduce`` trains, relative to the current directory.
DEFAULT_CLASSIFIER = "results/embedded/classifier/model.pt"
DEFAULT_EXPLAINER = "results/embedded/explainers/lmac/seed1234/model.pt"  # the embedded run's first seed
OUTPUT_SUFFIXES = (".explanation.wav", ".masked_out.wav", ".png", ".json")  # the JSON is moved last
WAV_SUBTYPE = "FLOAT"


@dataclass
class Clip:
    """One input, decoded and prepared for the classifier."""

    path: Path
    name: str                 # output name (unique in the run)
    wav: torch.Tensor         # [L] float32 mono at the classifier's rate, normalised
    source_rate: int
    source_channels: int
    source_samples: int
    peak: float               # max |x| after resampling, before normalisation
    silent: bool              # normalisation skipped (silence, or no positive peak for peak_signed)


def min_samples(classifier: AudioClassifier) -> int:
    """Shortest input the classifier accepts: one STFT window, and enough frames for CNN14."""
    cfg = classifier.frontend.cfg
    return max(cfg.n_fft, (MIN_FRAMES - 1) * cfg.hop_length)


def prepare_clip(path: Path, sample_rate: int, shortest: int, normalisation: str = "peak_abs") -> Clip:
    """Decode ``path`` and prepare it as training data were; ``LmacError`` naming the file if unusable."""
    if path.is_dir():
        raise LmacError(f"{path}: is a folder, not an audio file")
    data, sr = read_audio(path)  # [channels, samples]; one-line error if missing or not audio
    channels, samples = data.shape
    if samples == 0 or channels == 0:
        raise LmacError(f"{path}: empty audio file (0 samples)")
    bad = int((~np.isfinite(data)).sum())
    if bad:
        raise LmacError(f"{path}: {bad} of {data.size} samples are NaN or infinite")
    mono = torch.from_numpy(data.mean(axis=0, dtype=np.float32) if channels > 1 else data[0])
    if sr != sample_rate:
        import torchaudio  # the module prepare.py uses: its kernel is built in float64
        mono = torchaudio.transforms.Resample(orig_freq=sr, new_freq=sample_rate)(mono[None])[0]
    if mono.shape[0] < shortest:
        raise LmacError(f"{path}: too short: {samples} samples at {sr} Hz ({samples / sr:.3f} s) become "
                        f"{mono.shape[0]} at {sample_rate} Hz; the classifier needs at least {shortest} "
                        f"({shortest / sample_rate:.3f} s)")
    # prepare.py's own function, so an explained clip is scaled exactly like a training clip
    normalised, silent = normalise_peak(mono[None], normalisation)
    return Clip(path, path.stem, normalised[0], sr, channels, samples, float(mono.abs().max()), bool(silent[0]))


def output_names(paths: Sequence[Path]) -> list[str]:
    """A distinct output name per input: its stem, disambiguated only where stems clash.

    Clashing inputs in different folders get as many parent folder names as it takes, joined
    with ``__`` (``a/dog.wav``, ``b/dog.wav`` → ``a__dog``, ``b__dog``); clashing inputs in the
    same folder get their extension (``dog.wav``, ``dog.flac`` → ``dog_wav``, ``dog_flac``).
    """
    resolved = [p.resolve() for p in paths]
    names = [p.stem for p in resolved]
    for stem in {n for n in names if names.count(n) > 1}:
        group = [i for i, n in enumerate(names) if n == stem]
        folders = {resolved[i].parent for i in group}
        depth = 0
        if len(folders) > 1:
            depth = next(d for d in range(1, 1 + max(len(resolved[i].parent.parts) for i in group))
                         if len({resolved[i].parent.parts[-d:] for i in group}) == len(folders))
        prefixed = {}
        for i in group:
            folders_kept = resolved[i].parent.parts[-depth:] if depth else ()
            prefixed[i] = "__".join([*(part.strip("/") or "root" for part in folders_kept), stem])
        for i in group:  # same folder, same stem: the extension tells them apart
            clash = sum(prefixed[j] == prefixed[i] for j in group) > 1
            names[i] = f"{prefixed[i]}_{resolved[i].suffix.lstrip('.')}" if clash else prefixed[i]
    for i, name in enumerate(names):
        if names.count(name) > 1:  # only contrived names (a file literally called a__dog.wav) get here
            raise LmacError(f"{paths[i]}: its outputs would overwrite another input's ({name}.*); "
                            "rename it or explain it into a separate folder")
    return names


def explain_files(audio: Sequence[str | os.PathLike], out_dir: str | os.PathLike, *,
                  classifier_path: str | None = None, explainer_path: str | None = None,
                  top_k: int = 5, device: str = "auto", normalisation: str = "peak_abs") -> list[Path]:
    """Explain each file of ``audio`` into ``out_dir``; returns the JSON paths in input order."""
    from .explainers.registry import load_explainer

    out_dir = Path(out_dir)
    if top_k < 1:
        raise LmacError(f"--top-k: must be at least 1, got {top_k}")
    if normalisation not in NORMALISATIONS:
        raise LmacError(f"--normalisation: unknown value '{normalisation}' (choose from {', '.join(NORMALISATIONS)})")
    if out_dir.exists() and not out_dir.is_dir():
        raise LmacError(f"{out_dir}: exists and is not a folder")
    classifier_path = _checkpoint(classifier_path, DEFAULT_CLASSIFIER, "--classifier")
    explainer_path = _checkpoint(explainer_path, DEFAULT_EXPLAINER, "--explainer")
    device_ = pick_device(device)
    classifier = load_classifier(classifier_path, device_)
    # SpeechBrain (imported with LMAC-TD) logs INFO lines on import; before validation is done
    # they would precede what must be a one-line error
    logging.getLogger("speechbrain").setLevel(logging.WARNING)
    explainer = load_explainer(explainer_path, classifier)
    sample_rate = classifier.frontend.cfg.sample_rate

    # Decode and check every input first: a bad file fails the run before anything is written.
    unique: dict[Path, Path] = {}
    for item in audio:
        unique.setdefault(Path(item).resolve(), Path(item))  # the same file twice is explained once
    paths = list(unique.values())
    clips = [prepare_clip(p, sample_rate, min_samples(classifier), normalisation) for p in paths]
    for clip, name in zip(clips, output_names(paths)):
        clip.name = name

    out_dir.mkdir(parents=True, exist_ok=True)
    log.info("explain: %d file(s) with %s explainer %s and classifier %s on %s -> %s", len(clips),
             explainer.name, explainer_path, classifier_path, device_, out_dir)
    context = {"classifier": str(classifier_path), "explainer": str(explainer_path), "explainer_kind": explainer.name,
               "normalisation": normalisation}
    written = []
    for i, clip in enumerate(clips, 1):
        started = time.monotonic()
        if clip.silent:
            log.warning("explain: %s has no peak to normalise by (%s; silent?); left as it is", clip.path,
                        normalisation)
        record = explain_clip(clip, classifier, explainer, out_dir, top_k, context)
        log.info("explain: [%d/%d] %s -> %s.*: %s (p=%.3f), mask mean %.3f, %.1fs", i, len(clips), clip.path,
                 out_dir / clip.name, record["predicted_class"], record["top_k"][0]["probability"],
                 record["metrics"]["MM"], time.monotonic() - started)
        written.append(out_dir / f"{clip.name}.json")
    return written


def _checkpoint(given: str | None, default: str, flag: str) -> Path:
    if given is not None:
        return Path(given)  # a bad path fails in the loader with its own one-line message
    path = Path(default)
    if not path.is_file():
        raise LmacError(f"{path}: not found (relative to {Path.cwd()}); train the default models with "
                        f"`make reproduce` or pass {flag}")
    return path


def explain_clip(clip: Clip, classifier: AudioClassifier, explainer, out_dir: Path, top_k: int,
                 context: dict) -> dict:
    """Explain one prepared clip and write its four outputs; returns the JSON record."""
    device = next(classifier.parameters()).device
    wav = clip.wav[None].to(device)
    with torch.no_grad():
        logits = classifier(wav)[0]
    # the prediction is what is explained (as in evaluation); no outer no_grad: gradient methods need autograd
    exp = explainer.explain(wav, logits.argmax(-1))
    with torch.no_grad():
        logits_in = classifier.classify_logspec(exp.masked_in)
        logits_out = classifier.classify_logspec(exp.masked_out)
        masked_out_wav = classifier.frontend.resynthesise(exp.masked_out, wav)
        # reference logits through the same log-spectrogram path as the masked inputs (as evaluation)
        metrics = all_metrics(classifier.classify_logspec(exp.logspec), logits_in, logits_out, exp.mask, exp.target)
    probs = logits.softmax(-1)[0].cpu()
    k = min(top_k, probs.numel())
    top = torch.topk(probs, k)
    target = int(exp.target[0])
    cfg = classifier.frontend.cfg
    sr = cfg.sample_rate
    length = clip.wav.shape[0]
    record = {
        "input": str(clip.path),
        "input_sha256": sha256_file(clip.path),
        "source": {"sample_rate": clip.source_rate, "channels": clip.source_channels,
                   "samples": clip.source_samples, "duration_s": clip.source_samples / clip.source_rate},
        "sample_rate": sr,
        "samples": length,
        "duration_s": length / sr,
        "normalisation": {"method": context["normalisation"], "peak_before": clip.peak,
                          "left_unnormalised": clip.silent},
        "predicted_class": classifier.classes[target],
        "top_k": [{"class": classifier.classes[int(j)], "index": int(j), "probability": float(p)}
                  for p, j in zip(top.values, top.indices)],
        "explainer": {"kind": context["explainer_kind"], "checkpoint": context["explainer"]},
        "classifier": {"checkpoint": context["classifier"], "classes": len(classifier.classes),
                       "width": classifier.width},
        "metrics": {name: float(value[0]) for name, value in metrics.items()},
        "outputs": {suffix.lstrip(".").replace(".", "_"): f"{clip.name}{suffix}" for suffix in OUTPUT_SUFFIXES},
        "lmac_version": __version__,
    }
    figure_args = dict(
        logspec=exp.logspec[0].cpu().numpy(), mask=exp.mask[0].cpu().numpy(),
        masked_in=exp.masked_in[0].cpu().numpy(), masked_out=exp.masked_out[0].cpu().numpy(),
        sample_rate=sr, hop_length=cfg.hop_length,
        top_k=[(e["class"], e["probability"]) for e in record["top_k"]],
        title=f"{clip.path.name}: {record['predicted_class']} ({record['top_k'][0]['probability']:.2f}), "
              f"{context['explainer_kind']}")
    _write_outputs(out_dir, clip.name, exp.waveform[0].detach().cpu().numpy(),
                   masked_out_wav[0].cpu().numpy(), sr, figure_args, record)
    return record


def _write_outputs(out_dir: Path, name: str, explanation: np.ndarray, masked_out: np.ndarray, sr: int,
                   figure_args: dict, record: dict) -> None:
    """All four files into a hidden temporary folder, then renamed into place, the JSON last."""
    from .reporting.explanation_figure import explanation_figure

    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=out_dir))
    try:
        write_wav(tmp / f"{name}.explanation.wav", explanation, sr, subtype=WAV_SUBTYPE)
        write_wav(tmp / f"{name}.masked_out.wav", masked_out, sr, subtype=WAV_SUBTYPE)
        explanation_figure(tmp / f"{name}.png", **figure_args)
        write_json(tmp / f"{name}.json", record)
        mode = _default_file_mode()
        for suffix in OUTPUT_SUFFIXES:
            os.chmod(tmp / f"{name}{suffix}", mode)  # temporary files are private (0600); results are not
            os.replace(tmp / f"{name}{suffix}", out_dir / f"{name}{suffix}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)




def _default_file_mode() -> int:
    """What ``open()`` would give a new file under the current umask (0644 for umask 022)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
