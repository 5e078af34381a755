"""Explain one checked input window by window and write its four outputs (see :mod:`lmac.explain`).

Each window is prepared like a training clip (``lmac.data.prepare.normalise_peak``: divided by
its own peak) and explained on its own, as a clip of the classifier's training length. Its
waveforms are multiplied back by that divisor before the overlap-add, so the written audio is at
the input's level throughout: a quiet passage stays quiet next to a loud one, and explanation and
masked-out part compare directly with the input. Peak memory is one window's (the reader seeks,
the writers stream, the figure pools frames), whatever the file's length.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from . import __version__
from .classifier.model import AudioClassifier
from .compute import REFERENCE, Compute
from .data.download import sha256_file
from .data.prepare import normalise_peak
from .errors import LmacError
from .evaluation.metrics import all_metrics
from .explain_input import AudioSource, WindowReader
from .explain_output import (
    OverlapAdd,
    SpectrogramSummary,
    make_temporary,
    overlaps,
    owned_span,
    plan_windows,
    window_weight,
)
from .io import write_json

log = logging.getLogger("lmac.explain")

OUTPUT_SUFFIXES = (".explanation.wav", ".masked_out.wav", ".png", ".json")  # the JSON is moved last
PROGRESS_EVERY_S = 30.0


@dataclass
class Windowing:
    """How inputs are cut: ``window``/``hop`` in samples at the classifier's rate; None: one clip."""

    window: int | None
    hop: int | None
    origin: str  # where the window length came from
    sample_rate: int

    def describe(self, mode: str) -> dict:
        sr = self.sample_rate
        if self.window is None:
            return {"whole_file": True}
        return {
            "seconds": self.window / sr,
            "samples": self.window,
            "hop_seconds": self.hop / sr,
            "hop_samples": self.hop,
            "length_from": self.origin,
            "last_window": "shifted to end at the file's end" if mode == "windows" else None,
        }


@dataclass
class Context:
    classifier: AudioClassifier
    explainer: object
    explainer_record: dict
    classifier_record: dict
    top_k: int
    normalisation: str
    windowing: Windowing
    out_dir: Path
    compute: Compute = REFERENCE  # --precision (lmac.compute)


def _normalise(mono: torch.Tensor, method: str) -> tuple[torch.Tensor, float, bool]:
    """(normalised window, what it was divided by, left unnormalised), exactly as training clips."""
    normalised, silent = normalise_peak(mono[None], method)
    if method == "none" or silent[0]:
        return normalised[0], 1.0, bool(silent[0])
    divisor = mono.abs().max() if method == "peak_abs" else mono.max()
    return normalised[0], float(divisor), False


def explain_window(
    wav: torch.Tensor, classifier: AudioClassifier, explainer, top_k: int, compute: Compute = REFERENCE
) -> dict:
    """Explain one prepared window [L]: decision, metrics, both waveforms and the figure's panels."""
    device = next(classifier.parameters()).device
    x = wav[None].to(device)
    with torch.no_grad():
        logits = classifier(x)[0]
    # the prediction is what is explained (as in evaluation); no outer no_grad: gradient methods need autograd
    exp = compute.explained(device, explainer.explain, x, explainer.decision(x, logits.argmax(-1)))
    with torch.no_grad():
        logits_in = classifier.classify_logspec(exp.masked_in)
        logits_out = classifier.classify_logspec(exp.masked_out)
        masked_out = classifier.frontend.resynthesise(exp.masked_out, x)
        # reference logits through the same log-spectrogram path as the masked inputs (as evaluation)
        metrics = all_metrics(classifier.classify_logspec(exp.logspec), logits_in, logits_out, exp.mask, exp.target)
    probs = logits.softmax(-1)[0].cpu()
    top = torch.topk(probs, min(top_k, probs.numel()))
    return {
        "predicted_class": classifier.classes[int(exp.target[0])],
        "top_k": [
            {"class": classifier.classes[int(j)], "index": int(j), "probability": float(p)}
            for p, j in zip(top.values, top.indices)
        ],
        "metrics": {name: float(value[0]) for name, value in metrics.items()},
        "probabilities": probs.numpy(),
        "waveforms": [
            exp.waveform[0].detach().cpu().numpy().astype(np.float64),
            masked_out[0].cpu().numpy().astype(np.float64),
        ],
        "panels": [t[0].detach().cpu().numpy() for t in (exp.logspec, exp.mask, exp.masked_in, exp.masked_out)],
    }


def explain_source(source: AudioSource, ctx: Context) -> dict:
    """Explain ``source`` and move its four outputs into ``ctx.out_dir``; returns the JSON record."""
    for warning in source.warnings:
        log.warning("explain: %s", warning)
    try:
        tmp = make_temporary(ctx.out_dir, source.name)
        try:
            record = _explain_into(source, ctx, tmp)
            mode = _default_file_mode()
            for suffix in OUTPUT_SUFFIXES:
                os.chmod(tmp / f"{source.name}{suffix}", mode)  # temporary files are private (0600); results are not
                os.replace(tmp / f"{source.name}{suffix}", ctx.out_dir / f"{source.name}{suffix}")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    except (OSError, sf.LibsndfileError) as err:  # a full disk or a vanished folder, an hour into a long file
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise LmacError(f"{source.path}: its outputs could not be written to {ctx.out_dir} ({detail})") from None
    return record


def _explain_into(source: AudioSource, ctx: Context, tmp: Path) -> dict:
    from .reporting.explanation_figure import explanation_figure

    classifier, w = ctx.classifier, ctx.windowing
    cfg, sr, total, name = classifier.frontend.cfg, w.sample_rate, source.samples, source.name
    windows = plan_windows(total, w.window, w.hop)
    mode = "windows" if len(windows) > 1 else "clip"
    writer = OverlapAdd([tmp / f"{name}.explanation.wav", tmp / f"{name}.masked_out.wav"], total, sr)
    summary = SpectrogramSummary(total, cfg.hop_length, cfg.n_freqs)
    decisions, strip, prob_sum, peaks = [], [], 0.0, []
    last_report = started = time.monotonic()
    with WindowReader(source, sr) as reader, _discarding_on_error(writer):
        for i, (start, length) in enumerate(windows):
            mono = reader.read(start, length)
            wav, divisor, silent = _normalise(mono, ctx.normalisation)
            peaks.append(float(mono.abs().max()))
            if silent:
                log.warning(
                    "explain: %s [%.2f, %.2f] s has no peak to normalise by (%s; silent?); left as it is",
                    source.path,
                    start / sr,
                    (start + length) / sr,
                    ctx.normalisation,
                )
            out = explain_window(wav, classifier, ctx.explainer, ctx.top_k, ctx.compute)
            left, right = overlaps(windows, i)
            final = windows[i + 1][0] if i + 1 < len(windows) else total
            writer.add(start, [y * divisor for y in out["waveforms"]], window_weight(length, left, right), final)
            owned = owned_span(windows, i, total)
            summary.add(start, owned, out["panels"])
            prob_sum = prob_sum + out["probabilities"]
            decisions.append(
                {
                    "index": i,
                    "start_s": start / sr,
                    "end_s": (start + length) / sr,
                    "start_sample": start,
                    "end_sample": start + length,
                    "predicted_class": out["predicted_class"],
                    "top_k": out["top_k"],
                    "metrics": out["metrics"],
                    "peak_before": peaks[-1],
                    "left_unnormalised": silent,
                }
            )
            strip.append((owned[0] / sr, owned[1] / sr, out["predicted_class"], out["top_k"][0]["probability"]))
            if time.monotonic() - last_report > PROGRESS_EVERY_S:
                last_report = time.monotonic()
                log.info(
                    "explain: %s: window %d/%d (%.0f%%), %.0fs",
                    source.path,
                    i + 1,
                    len(windows),
                    100 * (i + 1) / len(windows),
                    last_report - started,
                )
    writer.close()

    record = {
        "input": str(source.path),
        "input_sha256": sha256_file(source.path),
        "source": {
            "sample_rate": source.rate,
            "channels": source.channels,
            "samples": source.frames,
            "duration_s": source.frames / source.rate,
        },
        "sample_rate": sr,
        "samples": total,
        "duration_s": total / sr,
        "mode": mode,
        "window": w.describe(mode),
        "windows": decisions,
        "waveform_level": "the input's: each window's waveforms times the divisor its peak normalisation used",
        "explainer": ctx.explainer_record,
        "classifier": ctx.classifier_record,
        "outputs": {suffix.lstrip(".").replace(".", "_"): f"{name}{suffix}" for suffix in OUTPUT_SUFFIXES},
        "warnings": list(source.warnings),
        "lmac_version": __version__,
    }
    method = ctx.explainer_record["method"]
    if mode == "clip":
        only = decisions[0]
        record.update(
            predicted_class=only["predicted_class"],
            top_k=only["top_k"],
            metrics=only["metrics"],
            normalisation={
                "method": ctx.normalisation,
                "peak_before": only["peak_before"],
                "left_unnormalised": only["left_unnormalised"],
            },
        )
        bars = [(e["class"], e["probability"]) for e in only["top_k"]]
        title = f"{source.path.name}: {only['predicted_class']} ({only['top_k'][0]['probability']:.2f}), {method}"
    else:
        counts = Counter(d["predicted_class"] for d in decisions).most_common()
        mean = prob_sum / len(decisions)
        order = np.argsort(-mean, kind="stable")[: ctx.top_k]
        record["summary"] = {
            "windows_per_class": dict(counts),
            "mean_probability_top_k": [
                {"class": classifier.classes[int(j)], "index": int(j), "probability": float(mean[j])} for j in order
            ],
        }
        record["normalisation"] = {
            "method": ctx.normalisation,
            "per": "window",
            "peak_before": max(peaks),
            "windows_left_unnormalised": sum(d["left_unnormalised"] for d in decisions),
        }
        bars = [(cls, n / len(decisions)) for cls, n in counts[: ctx.top_k]]
        title = (
            f"{source.path.name}: {len(decisions)} windows of {w.window / sr:g} s (hop {w.hop / sr:g} s), "
            f"most often {counts[0][0]} ({counts[0][1]}), {method}"
        )
    logspec, mask, masked_in, masked_out = summary.panels()
    explanation_figure(
        tmp / f"{name}.png",
        logspec=logspec,
        mask=mask,
        masked_in=masked_in,
        masked_out=masked_out,
        sample_rate=sr,
        hop_length=cfg.hop_length,
        top_k=bars,
        title=title,
        frames_per_column=summary.frames_per_column,
        windows=strip if mode == "windows" else None,
    )
    record["figure"] = {"columns": int(logspec.shape[0]), "frames_per_column": summary.frames_per_column}
    write_json(tmp / f"{name}.json", record)
    return record


@contextlib.contextmanager
def _discarding_on_error(writer: OverlapAdd) -> Iterator[None]:
    try:
        yield
    except BaseException:
        writer.discard()
        raise


def _default_file_mode() -> int:
    """What ``open()`` would give a new file under the current umask (0644 for umask 022)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
