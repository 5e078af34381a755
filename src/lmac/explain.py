"""``lmac explain``: explain a trained classifier's decision on any audio file, with a listenable result.

For each input ``NAME`` the output folder receives

- ``NAME.explanation.wav``: the explainer's ``waveform`` (for L-MAC the masked-in spectrogram with
  the input's phase, inverse STFT), exactly the (resampled) input's length, at the classifier's rate;
- ``NAME.masked_out.wav``: what the explanation removes, resynthesised the same way;
- ``NAME.png``: input spectrogram, mask, masked-in and masked-out spectrograms, and the decision;
- ``NAME.json``: input, sample rates, duration, the decision(s) with top-k probabilities, the
  explainer (its method, α for LMAC-TD) and both checkpoints with their sha256, and every metric
  that needs no ground truth.

Input is prepared as the training data were (``lmac.data.prepare``): downmix by averaging the
channels, resample with ``torchaudio.transforms.Resample`` to the classifier's rate, peak
normalisation (``peak_abs``: x / max|x| by default; a silent clip is left as it is).

**Long inputs** are explained in windows of the classifier's training clip length (recorded in
its checkpoint; ``--window`` for checkpoints that predate that, else :data:`DEFAULT_WINDOW_S`),
``--hop`` apart (default: the window, no overlap); the last window is shifted to end at the
file's end. Each window is normalised and explained as a training clip would be, gets its own
decision, and the waveforms are overlap-added at the input's level (:mod:`lmac.explain_windows`,
:mod:`lmac.explain_output`). Peak memory is bounded by the window, not the file: inputs are read
a window at a time (:mod:`lmac.explain_input`) and outputs streamed to disk. An input no longer
than a window is one clip; so is every input with ``--whole-file`` (the reference's clip-level
decision on the whole input; memory then grows with the input's length).

Every input, both checkpoints, the device and the output folder's writability are checked before
anything is written, so a bad file among many fails the run with one line and leaves no outputs.
Each file's outputs are written into a hidden temporary folder inside the output folder and then
renamed into place (the JSON last); folders left by killed runs are removed by later ones.

WAVs are 32-bit float without libsndfile's timestamped PEAK chunk: no clipping, and two runs give
identical bytes.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from .checkpoints import load_checkpoint
from .classifier.cnn14 import MIN_FRAMES
from .classifier.model import AudioClassifier, load_classifier
from .compute import REFERENCE, Compute
from .data.download import sha256_file
from .data.prepare import NORMALISATIONS, normalise_peak
from .errors import LmacError
from .explain_input import AudioSource, WindowReader, scan
from .explain_output import remove_stale_temporaries
from .explain_windows import Context, Windowing, explain_source
from .provenance import job_record_path
from .training import pick_device

log = logging.getLogger("lmac.explain")

#: The models ``make reproduce`` trains, relative to the current directory.
DEFAULT_CLASSIFIER = "results/embedded/classifier/model.pt"
DEFAULT_EXPLAINER = "results/embedded/explainers/lmac/seed1234/model.pt"  # the embedded run's first seed
#: Window for classifier checkpoints that do not record their training clip length: ESC-50's 5 s clips,
#: on which the papers' classifiers were trained.
DEFAULT_WINDOW_S = 5.0


@dataclass
class Clip:
    """One input, decoded whole and prepared for the classifier."""

    path: Path
    name: str
    wav: torch.Tensor  # [L] float32 mono at the classifier's rate, normalised
    source_rate: int
    source_channels: int
    source_samples: int
    peak: float  # max |x| after resampling, before normalisation
    silent: bool  # normalisation skipped (silence, or no positive peak for peak_signed)


def min_samples(classifier: AudioClassifier) -> int:
    """Shortest input the classifier accepts: one STFT window, and enough frames for CNN14."""
    cfg = classifier.frontend.cfg
    return max(cfg.n_fft, (MIN_FRAMES - 1) * cfg.hop_length)


def prepare_clip(path: Path, sample_rate: int, shortest: int, normalisation: str = "peak_abs") -> Clip:
    """Decode all of ``path`` and prepare it as training data were; ``LmacError`` naming the file if unusable."""
    source = scan(Path(path), sample_rate, shortest)
    with WindowReader(source, sample_rate) as reader:
        mono = reader.read(0, source.samples)
    # prepare.py's own function, so an explained clip is scaled exactly like a training clip
    normalised, silent = normalise_peak(mono[None], normalisation)
    return Clip(
        source.path,
        source.path.stem,
        normalised[0],
        source.rate,
        source.channels,
        source.frames,
        float(mono.abs().max()),
        bool(silent[0]),
    )


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
            depth = next(
                d
                for d in range(1, 1 + max(len(resolved[i].parent.parts) for i in group))
                if len({resolved[i].parent.parts[-d:] for i in group}) == len(folders)
            )
        prefixed = {}
        for i in group:
            folders_kept = resolved[i].parent.parts[-depth:] if depth else ()
            prefixed[i] = "__".join([*(part.strip("/") or "root" for part in folders_kept), stem])
        for i in group:  # same folder, same stem: the extension tells them apart
            clash = sum(prefixed[j] == prefixed[i] for j in group) > 1
            names[i] = f"{prefixed[i]}_{resolved[i].suffix.lstrip('.')}" if clash else prefixed[i]
    for i, name in enumerate(names):
        if names.count(name) > 1:  # only contrived names (a file literally called a__dog.wav) get here
            raise LmacError(
                f"{paths[i]}: its outputs would overwrite another input's ({name}.*); "
                "rename it or explain it into a separate folder"
            )
    return names


def explain_files(
    audio: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    classifier_path: str | None = None,
    explainer_path: str | None = None,
    top_k: int = 5,
    device: str = "auto",
    normalisation: str = "peak_abs",
    window: float | None = None,
    hop: float | None = None,
    whole_file: bool = False,
    compute: Compute = REFERENCE,
) -> list[Path]:
    """Explain each file of ``audio`` into ``out_dir``; returns the JSON paths in input order.

    ``window``/``hop`` (seconds) cut longer inputs into windows (default: the classifier's training
    clip length, hop = window); ``whole_file`` explains every input as one clip. ``explainer_path``
    is a checkpoint, or the name of a baseline (``saliency``, ``ig``, ...; a file of that name wins).
    ``compute`` is how the device computes the explanations (:mod:`lmac.compute`; ``--precision``).
    """
    out_dir = Path(out_dir)
    _check_options(top_k, normalisation, window, hop, whole_file)
    check_output_folder(out_dir)
    device_ = _device(device)
    classifier_path = _checkpoint(classifier_path, DEFAULT_CLASSIFIER, "--classifier")
    explainer_arg = _explainer_argument(explainer_path)
    classifier = load_classifier(classifier_path, device_)
    # SpeechBrain (imported with LMAC-TD) logs INFO lines on import; before validation is done
    # they would precede what must be a one-line error
    logging.getLogger("speechbrain").setLevel(logging.WARNING)
    explainer, explainer_record = _load_explainer(explainer_arg, classifier)
    sample_rate = classifier.frontend.cfg.sample_rate
    windowing = _windowing(classifier, window, hop, whole_file, min_samples(classifier))

    # Check every input first: a bad file fails the run before anything is written.
    unique: dict[Path, Path] = {}
    for item in audio:
        unique.setdefault(Path(item).resolve(), Path(item))  # the same file twice is explained once
    paths = list(unique.values())
    sources: list[AudioSource] = [scan(p, sample_rate, min_samples(classifier)) for p in paths]
    for source, name in zip(sources, output_names(paths)):
        source.name = name

    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out_dir)
    # logged only now: before every input is checked, stderr is kept for a one-line error
    log.info(
        "explain: %d file(s) with %s %s and classifier %s on %s, %s -> %s",
        len(sources),
        explainer_record["method"],
        explainer_record["checkpoint"] or "(baseline)",
        classifier_path,
        device_,
        "whole files"
        if windowing.window is None
        else f"windows of {windowing.window / sample_rate:g} s ({windowing.origin}), "
        f"hop {windowing.hop / sample_rate:g} s",
        out_dir,
    )
    if windowing.origin.startswith("default") and any(s.samples > windowing.window for s in sources):
        log.warning(
            "explain: %s records no training clip length: windows of %g s (ESC-50's clips); pass "
            "--window with the length it was trained on if that differs",
            classifier_path,
            DEFAULT_WINDOW_S,
        )
    classifier_record = {
        "checkpoint": str(classifier_path),
        "sha256": sha256_file(classifier_path),
        "classes": len(classifier.classes),
        "width": classifier.width,
        "clip_seconds": classifier.clip_seconds,
    }
    ctx = Context(
        classifier, explainer, explainer_record, classifier_record, top_k, normalisation, windowing, out_dir, compute
    )
    written = []
    with compute.applied(device_):
        for i, source in enumerate(sources, 1):
            started = time.monotonic()
            record = explain_source(source, ctx)
            if record["mode"] == "clip":
                what = f"{record['predicted_class']} (p={record['top_k'][0]['probability']:.3f})"
            else:
                cls, n = next(iter(record["summary"]["windows_per_class"].items()))
                what = f"{len(record['windows'])} windows, most often {cls} ({n})"
            mask_mean = sum(d["metrics"]["MM"] for d in record["windows"]) / len(record["windows"])
            log.info(
                "explain: [%d/%d] %s -> %s.*: %s, mask mean %.3f, %.1fs",
                i,
                len(sources),
                source.path,
                out_dir / source.name,
                what,
                mask_mean,
                time.monotonic() - started,
            )
            written.append(out_dir / f"{source.name}.json")
    return written


def _check_options(top_k: int, normalisation: str, window: float | None, hop: float | None, whole_file: bool) -> None:
    if top_k < 1:
        raise LmacError(f"--top-k: must be at least 1, got {top_k}")
    if normalisation not in NORMALISATIONS:
        raise LmacError(f"--normalisation: unknown value '{normalisation}' (choose from {', '.join(NORMALISATIONS)})")
    if whole_file and (window is not None or hop is not None):
        raise LmacError("--whole-file explains each input as one clip: it takes no --window or --hop")
    for flag, value in (("--window", window), ("--hop", hop)):
        if value is not None and not value > 0:
            raise LmacError(f"{flag}: must be a positive number of seconds, got {value}")


def check_output_folder(out_dir: Path) -> None:
    """Fail now, not after an hour of computing, if ``out_dir`` cannot be created or written."""
    if out_dir.exists() and not out_dir.is_dir():
        raise LmacError(f"{out_dir}: exists and is not a folder")
    existing = out_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise LmacError(f"{out_dir}: cannot be created: {existing} is a file, not a folder")
    try:  # access() is not enough: it says yes to root on read-only mounts
        fd, probe = tempfile.mkstemp(prefix=".lmac-write-probe.", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        reason = (err.strerror or type(err).__name__).lower()
        where = "" if existing == out_dir else f" ({existing} is the nearest existing folder)"
        raise LmacError(f"{out_dir}: not writable: {reason}{where}") from None


def _device(requested: str) -> torch.device:
    try:
        device = pick_device(requested)
        torch.empty(1, device=device)  # an ordinal past the last GPU fails only here
    except LmacError:
        raise
    except (RuntimeError, ValueError, AssertionError) as err:
        detail = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise LmacError(
            f"--device: '{requested}' is not a usable device ({detail}); use auto, cpu, cuda or cuda:N"
        ) from None
    return device


def _checkpoint(given: str | None, default: str, flag: str) -> Path:
    if given is not None:
        return Path(given)  # a bad path fails in the loader with its own one-line message
    path = Path(default)
    if not path.is_file():
        raise LmacError(
            f"{path}: not found (relative to {Path.cwd()}); train the default models with "
            f"`make reproduce` or pass {flag}"
        )
    return path


def _explainer_argument(given: str | None) -> Path | str:
    """A checkpoint path, or a baseline's name when no file of that name exists."""
    if given is not None and not Path(given).exists():
        from .explainers.gradient import BASELINES

        if given in BASELINES:
            return given
    return _checkpoint(given, DEFAULT_EXPLAINER, "--explainer")


def _load_explainer(arg: Path | str, classifier: AudioClassifier):
    """The explainer and what the JSON records about it: method, α, checkpoint and its sha256."""
    from .explainers.registry import build_explainer, checkpoint_method, load_explainer

    if isinstance(arg, str):
        return build_explainer(arg, classifier), {
            "method": arg,
            "kind": "baseline",
            "checkpoint": None,
            "sha256": None,
            "method_from": "baseline (default settings)",
        }
    explainer = load_explainer(arg, classifier)
    payload = load_checkpoint(arg)
    meta, config = payload.get("meta") or {}, payload.get("config") or {}
    record = {"kind": payload["kind"], "checkpoint": str(arg), "sha256": sha256_file(arg)}
    if payload["kind"] == "lmac_td":
        return explainer, {"method": "lmac_td", "alpha": float(config["alpha"]), **record, "method_from": "checkpoint"}
    method, origin = checkpoint_method(payload), "checkpoint"
    if method is None and isinstance(meta.get("finetuned"), bool):
        method = "lmac_ft" if meta["finetuned"] else "lmac"
    if method is None:
        method, origin = _method_from_provenance(arg)
    return explainer, {"method": method, **record, "method_from": origin}


def _method_from_provenance(checkpoint: Path) -> tuple[str, str]:
    """L-MAC or L-MAC FT from the workflow's job record beside the checkpoint (same file format)."""
    try:
        rule = json.loads(job_record_path(checkpoint).read_text())["job"]["rule"]
    except (OSError, ValueError, KeyError, TypeError):
        rule = None
    if rule in ("train_lmac", "train_lmac_ft"):
        return rule.removeprefix("train_"), f"provenance ({job_record_path(checkpoint).name})"
    return "lmac", "assumed: the checkpoint records no method (L-MAC FT checkpoints have L-MAC's format)"


def _windowing(
    classifier: AudioClassifier, window: float | None, hop: float | None, whole_file: bool, shortest: int
) -> Windowing:
    sr = classifier.frontend.cfg.sample_rate
    if whole_file:
        return Windowing(None, None, "--whole-file", sr)
    if window is not None:
        seconds, origin = window, "--window"
    elif classifier.clip_seconds:
        seconds, origin = classifier.clip_seconds, "classifier checkpoint"
    else:
        seconds, origin = DEFAULT_WINDOW_S, "default: the classifier checkpoint records no clip length"
    samples = round(seconds * sr)
    if samples < shortest:
        raise LmacError(
            f"--window: {seconds:g} s is {samples} samples; the classifier needs at least {shortest} "
            f"({shortest / sr:.3f} s)"
        )
    hop_samples = samples if hop is None else round(hop * sr)
    if not 0 < hop_samples <= samples:
        raise LmacError(f"--hop: {hop:g} s must be positive and at most the window ({seconds:g} s)")
    return Windowing(samples, hop_samples, origin, sr)
