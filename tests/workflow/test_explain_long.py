"""``lmac explain`` on long audio: windows of the classifier's clip length, streamed, overlap-added.

A 10-minute file goes through L-MAC and LMAC-TD (tiny random models, so each run takes seconds):
the WAVs keep the input's length, the JSON has one decision per window at the right place, a
window's output is what explaining that window alone gives, and an explainer that keeps
everything (``all_ones``) gives the input back through the overlap-add. Peak memory is measured
on a child process: ten times the audio must not cost more memory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import soundfile as sf
import torch
from explain_fixture import CLASSES, OUTPUTS, RATE, make_models, run_cli  # noqa: E402

from lmac.classifier.model import load_classifier
from lmac.data.download import sha256_file

WINDOW_S = 5.0
LONG_S = 601.3  # ≥ 10 min, and not a whole number of windows: the last one is shifted
WINDOW = int(WINDOW_S * RATE)


def noise_with_level_changes(seconds: float, seed: int) -> np.ndarray:
    """Noise whose level changes every few seconds, so levels across windows are checked."""
    rng = np.random.default_rng(seed)
    n = round(seconds * RATE)
    level = np.repeat(rng.uniform(0.02, 0.5, size=n // (3 * RATE) + 1), 3 * RATE)[:n]
    return (level * rng.standard_normal(n)).astype(np.float32)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict:
    return make_models(tmp_path_factory.mktemp("models"), clip_seconds=WINDOW_S)


@pytest.fixture(scope="module")
def long_audio(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("long")
    x = noise_with_level_changes(LONG_S, 0)
    sf.write(root / "long.wav", x, RATE, subtype="FLOAT")
    sf.write(root / "minute.wav", x[: 60 * RATE], RATE, subtype="FLOAT")
    return {"long": root / "long.wav", "minute": root / "minute.wav", "samples": x, "root": root}


def explain_in_child(audio: Path, out: Path, models: dict, explainer: str) -> int:
    """Run ``lmac explain`` in a child process; returns its peak RSS in KiB (``wait4``: this child's own)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lmac.cli",
            "explain",
            str(audio),
            "-o",
            str(out),
            "--classifier",
            str(models["classifier"]),
            "--explainer",
            str(models[explainer]),
            "--device",
            "cpu",
        ],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    stderr = proc.stderr.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, stderr
    return usage.ru_maxrss


@pytest.fixture(scope="module")
def runs(models, long_audio, tmp_path_factory) -> dict:
    """The 10-minute file through L-MAC (in a child process, measured) and LMAC-TD, and one minute through L-MAC."""
    root = tmp_path_factory.mktemp("runs")
    rss = {
        "minute": explain_in_child(long_audio["minute"], root / "minute", models, "lmac"),
        "long": explain_in_child(long_audio["long"], root / "lmac", models, "lmac"),
    }
    assert (
        run_cli(
            "explain",
            long_audio["long"],
            "-o",
            root / "lmac_td",
            "--classifier",
            models["classifier"],
            "--explainer",
            models["lmac_td"],
            "--device",
            "cpu",
        )
        == 0
    )
    return {"lmac": root / "lmac", "lmac_td": root / "lmac_td", "rss_kib": rss}


def window_starts(total: int) -> list[int]:
    return list(range(0, total - WINDOW, WINDOW)) + [total - WINDOW]


@pytest.mark.parametrize("explainer", ["lmac", "lmac_td"])
def test_long_file_windows_and_durations(runs, long_audio, models, explainer):
    out, total = runs[explainer], len(long_audio["samples"])
    assert sorted(p.name for p in out.iterdir()) == sorted(f"long{s}" for s in OUTPUTS)  # no temporaries left
    for suffix in (".explanation.wav", ".masked_out.wav"):
        info = sf.info(out / f"long{suffix}")
        assert (info.samplerate, info.channels, info.frames) == (RATE, 1, total), suffix
    record = json.loads((out / "long.json").read_text())
    assert record["mode"] == "windows" and record["samples"] == total
    assert record["window"]["samples"] == record["window"]["hop_samples"] == WINDOW
    assert record["window"]["length_from"] == "classifier checkpoint"
    starts = window_starts(total)
    assert len(starts) == 121 and starts[-1] == total - WINDOW and starts[-2] == 119 * WINDOW
    assert [w["start_sample"] for w in record["windows"]] == starts
    assert [w["end_sample"] for w in record["windows"]] == [s + WINDOW for s in starts]
    for w in record["windows"]:
        assert w["start_s"] == pytest.approx(w["start_sample"] / RATE)
        assert w["end_s"] == pytest.approx(w["end_sample"] / RATE)
        assert w["predicted_class"] == w["top_k"][0]["class"] in CLASSES
        assert {"AI", "AD", "AG", "FF", "FidIn", "SPS", "COMP", "MM"} <= set(w["metrics"])
        # each window was normalised by its own peak, read from the input
        s, e = w["start_sample"], w["end_sample"]
        assert w["peak_before"] == pytest.approx(float(np.abs(long_audio["samples"][s:e]).max()), rel=1e-6)
    summary = record["summary"]
    assert sum(summary["windows_per_class"].values()) == 121
    assert sum(e["probability"] for e in summary["mean_probability_top_k"]) == pytest.approx(1.0, abs=1e-5)
    assert "predicted_class" not in record  # no clip-level decision is claimed for a windowed file
    assert record["explainer"]["method"] == explainer
    assert record["explainer"]["sha256"] == sha256_file(models[explainer])
    if explainer == "lmac_td":
        assert record["explainer"]["alpha"] == 0.75


def test_long_figure_is_bounded_and_shows_the_windows(runs):
    record = json.loads((runs["lmac"] / "long.json").read_text())
    assert record["figure"]["columns"] <= 1000 and record["figure"]["frames_per_column"] > 1
    image = matplotlib.image.imread(runs["lmac"] / "long.png")
    assert image.shape[0] <= 1100 and image.shape[1] <= 1200  # the same canvas for any length
    assert image[..., :3].std() > 0.05


@pytest.mark.parametrize("explainer", ["lmac", "lmac_td"])
def test_window_output_is_that_window_explained_alone(runs, long_audio, models, explainer, tmp_path):
    """Window 7 ([35 s, 40 s)) and the shifted last window, cut out and explained as short files,
    give the same WAV samples as the windowed run (which writes them at the input's level)."""
    x, total = long_audio["samples"], len(long_audio["samples"])
    written = {
        s: sf.read(runs[explainer] / f"long{s}", dtype="float32")[0] for s in (".explanation.wav", ".masked_out.wav")
    }
    record = json.loads((runs[explainer] / "long.json").read_text())
    for index, start in ((7, 7 * WINDOW), (120, total - WINDOW)):
        sf.write(tmp_path / f"w{index}.wav", x[start : start + WINDOW], RATE, subtype="FLOAT")
        assert (
            run_cli(
                "explain",
                tmp_path / f"w{index}.wav",
                "-o",
                tmp_path / "out",
                "--classifier",
                models["classifier"],
                "--explainer",
                models[explainer],
                "--device",
                "cpu",
            )
            == 0
        )
        alone = json.loads((tmp_path / "out" / f"w{index}.json").read_text())
        assert alone["mode"] == "clip"
        window = record["windows"][index]
        assert window["predicted_class"] == alone["predicted_class"]
        for key, value in alone["metrics"].items():
            assert window["metrics"][key] == pytest.approx(value, rel=1e-4, abs=1e-5), key
        # the last window overlaps its predecessor: only the part after the overlap is its own
        own = slice(start, start + WINDOW) if index < 120 else slice(120 * WINDOW, total)
        for suffix, wav in written.items():
            short = sf.read(tmp_path / "out" / f"w{index}{suffix}", dtype="float32")[0]
            np.testing.assert_allclose(
                wav[own], short[own.start - start : own.stop - start], atol=2e-6, err_msg=f"window {index} {suffix}"
            )


def test_peak_memory_does_not_grow_with_the_file(runs):
    """Ten times the audio (1 → 10 min): peak RSS within 25 MiB. Holding the 10-minute file once
    as float32 would add 36 MiB, its four full-resolution spectrograms 400 MiB."""
    rss = runs["rss_kib"]
    assert rss["long"] - rss["minute"] < 25 * 1024, rss


def explain_all_ones(models: dict, audio, out, *extra) -> int:
    """``lmac explain`` of ``audio`` into ``out`` with the all-ones map: the explanation is the input."""
    return run_cli(
        "explain",
        audio,
        "-o",
        out,
        "--classifier",
        models["classifier"],
        "--explainer",
        "all_ones",
        "--device",
        "cpu",
        *extra,
    )


def test_all_ones_overlap_add_gives_the_input_back(models, long_audio, tmp_path):
    """M = 1 keeps everything: the explanation is the input (overlap-added, at its level) and the
    masked-out part is silence, over 10 minutes with the default hop and over a minute with half a
    window's hop (every sample then comes from two cross-faded windows)."""
    x = long_audio["samples"]
    for audio, hop in ((long_audio["long"], []), (long_audio["minute"], ["--hop", WINDOW_S / 2])):
        out = tmp_path / f"hop{len(hop)}"
        assert explain_all_ones(models, audio, out, *hop) == 0
        explanation = sf.read(out / f"{audio.stem}.explanation.wav", dtype="float32")[0]
        np.testing.assert_allclose(explanation, x[: len(explanation)], atol=1e-5)
        assert len(explanation) == sf.info(audio).frames
        assert np.abs(sf.read(out / f"{audio.stem}.masked_out.wav", dtype="float32")[0]).max() < 1e-5
        record = json.loads((out / f"{audio.stem}.json").read_text())
        assert record["explainer"] == {
            "method": "all_ones",
            "kind": "baseline",
            "checkpoint": None,
            "sha256": None,
            "method_from": "baseline (default settings)",
        }
        if hop:
            starts = [w["start_sample"] for w in record["windows"]]
            assert starts[:3] == [0, WINDOW // 2, WINDOW] and starts[-1] == len(explanation) - WINDOW


def test_half_hop_cross_fades_windows(models, long_audio, tmp_path):
    """With overlapping windows each output sample is the weighted mean of the windows covering it."""
    from lmac.explain_output import overlaps, plan_windows, window_weight
    from lmac.explain_windows import explain_window
    from lmac.explainers.registry import load_explainer

    x = long_audio["samples"][: 12 * RATE]
    sf.write(tmp_path / "twelve.wav", x, RATE, subtype="FLOAT")
    assert (
        run_cli(
            "explain",
            tmp_path / "twelve.wav",
            "-o",
            tmp_path / "out",
            "--hop",
            2.5,
            "--classifier",
            models["classifier"],
            "--explainer",
            models["lmac"],
            "--device",
            "cpu",
        )
        == 0
    )
    written = sf.read(tmp_path / "out" / "twelve.explanation.wav", dtype="float32")[0]
    classifier = load_classifier(models["classifier"])
    explainer = load_explainer(models["lmac"], classifier)
    windows = plan_windows(len(x), WINDOW, WINDOW // 2)
    assert [s for s, _ in windows] == [0, 40000, 80000, 112000]
    sums, weights = np.zeros(len(x)), np.zeros(len(x))
    for i, (start, length) in enumerate(windows):
        segment = torch.from_numpy(x[start : start + length].copy())
        peak = float(segment.abs().max())
        wav = explain_window(segment / peak, classifier, explainer, 3)["waveforms"][0] * peak
        w = window_weight(length, *overlaps(windows, i))
        sums[start : start + length] += w * wav
        weights[start : start + length] += w
    np.testing.assert_allclose(written, sums / weights, atol=2e-6)


def test_whole_file_is_one_clip(models, long_audio, tmp_path):
    """--whole-file: the clip-level decision on all of the input, as a short file would get."""
    x = long_audio["samples"][: 20 * RATE]
    sf.write(tmp_path / "twenty.wav", x, RATE, subtype="FLOAT")
    assert (
        run_cli(
            "explain",
            tmp_path / "twenty.wav",
            "-o",
            tmp_path / "out",
            "--whole-file",
            "--classifier",
            models["classifier"],
            "--explainer",
            models["lmac"],
            "--device",
            "cpu",
        )
        == 0
    )
    record = json.loads((tmp_path / "out" / "twenty.json").read_text())
    assert record["mode"] == "clip" and record["window"] == {"whole_file": True}
    assert len(record["windows"]) == 1 and record["windows"][0]["end_sample"] == len(x)
    assert record["normalisation"]["peak_before"] == pytest.approx(float(np.abs(x).max()))
    from lmac.explain_windows import explain_window
    from lmac.explainers.registry import load_explainer

    classifier = load_classifier(models["classifier"])
    peak = float(np.abs(x).max())
    out = explain_window(torch.from_numpy(x / peak), classifier, load_explainer(models["lmac"], classifier), 3)
    assert record["predicted_class"] == out["predicted_class"]
    written = sf.read(tmp_path / "out" / "twenty.explanation.wav", dtype="float32")[0]
    np.testing.assert_allclose(written, out["waveforms"][0] * peak, atol=2e-6)


def test_resampled_long_input_matches_resampling_the_whole_file(models, long_audio, tmp_path):
    """A 44.1 kHz stereo file read a window at a time gives the windows that resampling it whole would."""
    import torchaudio

    rng = np.random.default_rng(3)
    stereo = (0.2 * rng.standard_normal((int(23.7 * 44100), 2))).astype(np.float32)
    sf.write(tmp_path / "cd.wav", stereo, 44100, subtype="FLOAT")
    assert explain_all_ones(models, tmp_path / "cd.wav", tmp_path / "out") == 0
    whole = torchaudio.transforms.Resample(44100, RATE)(torch.from_numpy(stereo.mean(axis=1))[None])[0].numpy()
    written = sf.read(tmp_path / "out" / "cd.explanation.wav", dtype="float32")[0]
    assert len(written) == len(whole)
    np.testing.assert_allclose(written, whole, atol=1e-5)
    record = json.loads((tmp_path / "out" / "cd.json").read_text())
    for w in record["windows"]:
        s, e = w["start_sample"], w["end_sample"]
        assert w["peak_before"] == pytest.approx(float(np.abs(whole[s:e]).max()), rel=1e-5)


def test_outputs_are_byte_reproducible(models, long_audio, tmp_path):
    """Two runs give identical WAV (no timestamped PEAK chunk) and JSON bytes."""
    x = long_audio["samples"][: 12 * RATE]
    sf.write(tmp_path / "twelve.wav", x, RATE, subtype="FLOAT")
    for run in ("a", "b"):
        assert (
            run_cli(
                "explain",
                tmp_path / "twelve.wav",
                "-o",
                tmp_path / run,
                "--classifier",
                models["classifier"],
                "--explainer",
                models["lmac"],
                "--device",
                "cpu",
            )
            == 0
        )
    for suffix in (".explanation.wav", ".masked_out.wav", ".json"):
        a, b = ((tmp_path / run / f"twelve{suffix}").read_bytes() for run in ("a", "b"))
        assert a == b, suffix
    assert b"PEAK" not in (tmp_path / "a" / "twelve.explanation.wav").read_bytes()[:200]


def test_method_records_tell_lmac_ft_apart(models, long_audio, tmp_path):
    sf.write(tmp_path / "clip.wav", long_audio["samples"][: 3 * RATE], RATE, subtype="FLOAT")
    assert (
        run_cli(
            "explain",
            tmp_path / "clip.wav",
            "-o",
            tmp_path / "out",
            "--classifier",
            models["classifier"],
            "--explainer",
            models["lmac_ft"],
            "--device",
            "cpu",
        )
        == 0
    )
    record = json.loads((tmp_path / "out" / "clip.json").read_text())
    assert record["explainer"] == {
        "method": "lmac_ft",
        "kind": "lmac",
        "checkpoint": str(models["lmac_ft"]),
        "sha256": sha256_file(models["lmac_ft"]),
        "method_from": "checkpoint",
    }
    assert record["classifier"]["clip_seconds"] == WINDOW_S
