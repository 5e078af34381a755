"""``lmac explain``: any audio file in, listenable explanation, figure and per-clip metrics out.

A random tiny classifier and L-MAC decoder stand in for trained ones: the command's contract
(resampling, normalisation, output files, their content and one-line errors) does not depend on
what the models learned.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import soundfile as sf
import torch
from explain_fixture import TINY_TD, assert_one_line_error
from model_fixture import tiny_classifier

from lmac.classifier.model import AudioClassifier, load_classifier
from lmac.cli import main
from lmac.data.download import sha256_file
from lmac.evaluation.metrics import all_metrics
from lmac.explain import min_samples, output_names, prepare_clip
from lmac.explainers.lmac import LmacExplainer
from lmac.explainers.lmac_td import build_lmac_td
from lmac.explainers.registry import load_explainer

CLASSES = ["dog", "rain", "siren"]
RATE = 16000
OUTPUTS = (".explanation.wav", ".masked_out.wav", ".png", ".json")


def tone(seconds: float, sr: int, freq: float, amp: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t) + 0.05 * amp * rng.standard_normal(t.shape)).astype(np.float32)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("models")
    classifier = tiny_classifier(CLASSES)
    classifier.save(root / "classifier.pt")
    LmacExplainer(classifier).save(root / "lmac.pt")
    other = AudioClassifier(CLASSES, width=0.125)  # an explainer trained for a different classifier
    LmacExplainer(other).save(root / "lmac_width_0.125.pt")
    build_lmac_td(classifier, TINY_TD, alpha=0.75).save(root / "lmac_td.pt")
    return {
        "classifier": root / "classifier.pt",
        "explainer": root / "lmac.pt",
        "other_width": root / "lmac_width_0.125.pt",
        "lmac_td": root / "lmac_td.pt",
    }


@pytest.fixture(scope="module")
def audio(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("audio")
    rng = np.random.default_rng(0)
    stereo = np.stack([tone(0.5, 44100, 440, 0.6, rng), tone(0.5, 44100, 880, 0.3, rng)], axis=1)
    sf.write(root / "street.wav", stereo, 44100)
    sf.write(root / "phone.flac", tone(0.8, 8000, 300, 0.25, rng), 8000)
    sf.write(root / "field.ogg", tone(0.6, 22050, 1000, 0.4, rng), 22050)
    return {"wav": root / "street.wav", "flac": root / "phone.flac", "ogg": root / "field.ogg"}


def run_cli(*args) -> int:
    try:
        return main([str(a) for a in args])
    except SystemExit as exit_:  # lmac.errors.fail
        return int(exit_.code)


def model_args(models: dict) -> list:
    return ["--classifier", models["classifier"], "--explainer", models["explainer"], "--device", "cpu"]


@pytest.fixture(scope="module")
def explained(models, audio, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("explained")
    code = run_cli(
        "--log",
        root / "explain.log",
        "explain",
        audio["wav"],
        audio["flac"],
        audio["ogg"],
        "-o",
        root / "out",
        *model_args(models),
    )
    assert code == 0
    return {"out": root / "out", "log": (root / "explain.log").read_text()}


# --------------------------------------------------------------------------------------------
# outputs


@pytest.mark.parametrize("kind, sr, channels", [("wav", 44100, 2), ("flac", 8000, 1), ("ogg", 22050, 1)])
def test_outputs_and_json(explained, audio, models, kind, sr, channels):
    out, path = explained["out"], audio[kind]
    name = path.stem
    for suffix in OUTPUTS:
        assert (out / f"{name}{suffix}").is_file(), suffix
    source_samples = sf.info(path).frames
    expected_length = math.ceil(source_samples * RATE / sr)  # torchaudio's Resample output length
    for suffix in (".explanation.wav", ".masked_out.wav"):
        info = sf.info(out / f"{name}{suffix}")
        assert (info.samplerate, info.channels, info.frames) == (RATE, 1, expected_length), suffix

    record = json.loads((out / f"{name}.json").read_text())
    assert record["input"] == str(path)
    assert record["source"] == {
        "sample_rate": sr,
        "channels": channels,
        "samples": source_samples,
        "duration_s": pytest.approx(source_samples / sr),
    }
    assert (record["sample_rate"], record["samples"]) == (RATE, expected_length)
    assert record["duration_s"] == pytest.approx(expected_length / RATE)
    assert record["explainer"]["method"] == record["explainer"]["kind"] == "lmac"
    assert record["explainer"]["checkpoint"] == str(models["explainer"])
    assert record["explainer"]["sha256"] == sha256_file(models["explainer"])
    assert record["classifier"]["checkpoint"] == str(models["classifier"])
    assert record["classifier"]["sha256"] == sha256_file(models["classifier"])
    assert record["mode"] == "clip" and len(record["windows"]) == 1  # shorter than a window: one clip
    top = record["top_k"]
    assert sorted(e["class"] for e in top) == sorted(CLASSES)
    assert [e["probability"] for e in top] == sorted((e["probability"] for e in top), reverse=True)
    assert sum(e["probability"] for e in top) == pytest.approx(1.0, abs=1e-5)  # 3 classes, top-5 → all
    assert record["predicted_class"] == top[0]["class"]
    assert record["normalisation"]["method"] == "peak_abs" and record["normalisation"]["peak_before"] > 0

    m = record["metrics"]
    assert {"AI", "AD", "AG", "FF", "FidIn", "SPS", "COMP", "MM"} <= set(m)
    assert m["AI"] in (0.0, 100.0) and m["FidIn"] in (0.0, 1.0)
    assert 0 <= m["AD"] <= 100 and 0 <= m["AG"] <= 100 and -1 <= m["FF"] <= 1
    assert 0 <= m["SPS"] <= 1 and 0 <= m["MM"] <= 1
    frames = expected_length // 186 + 1
    assert 0 < m["COMP"] <= math.log(frames * 513) + 1e-4

    with open(out / f"{name}.png", "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(out / f"{name}.png")
    assert image.ndim == 3 and image.shape[0] > 300 and image.shape[1] > 300
    assert image[..., :3].std() > 0.05  # panels were drawn, not a blank canvas


def test_wavs_are_the_explainers_output(explained, audio, models):
    """explanation.wav is the explainer's waveform and masked_out.wav the masked-out resynthesis
    of the resampled, peak-normalised input, both scaled back to the input's level; the JSON's
    metrics are this clip's."""
    classifier = load_classifier(models["classifier"])
    explainer = load_explainer(models["explainer"], classifier)
    clip = prepare_clip(audio["wav"], RATE, min_samples(classifier))
    assert float(clip.wav.abs().max()) == pytest.approx(1.0)  # peak_abs, as training data were
    wav = clip.wav[None]
    exp = explainer.explain(wav)
    with torch.no_grad():
        masked_out = classifier.frontend.resynthesise(exp.masked_out, wav)
        metrics = all_metrics(
            classifier(wav)[0],
            classifier.classify_logspec(exp.masked_in),
            classifier.classify_logspec(exp.masked_out),
            exp.mask,
            exp.target,
        )
    assert clip.peak < 0.95  # so that the level is checked
    written, _ = sf.read(explained["out"] / "street.explanation.wav", dtype="float32")
    np.testing.assert_allclose(written, clip.peak * exp.waveform[0].numpy(), atol=1e-6)
    written, _ = sf.read(explained["out"] / "street.masked_out.wav", dtype="float32")
    np.testing.assert_allclose(written, clip.peak * masked_out[0].numpy(), atol=1e-6)
    assert np.abs(written).max() > 0.01  # the masked-out part is audible, not silence
    record = json.loads((explained["out"] / "street.json").read_text())
    for name, value in metrics.items():
        assert record["metrics"][name] == pytest.approx(float(value[0]), rel=1e-5, abs=1e-6), name


def test_lmac_td_checkpoint_explains_with_its_waveform(models, audio, tmp_path):
    code = run_cli(
        "explain",
        audio["flac"],
        "-o",
        tmp_path,
        "--classifier",
        models["classifier"],
        "--explainer",
        models["lmac_td"],
        "--device",
        "cpu",
    )
    assert code == 0
    record = json.loads((tmp_path / "phone.json").read_text())
    assert record["explainer"]["kind"] == "lmac_td"
    wav, sr = sf.read(tmp_path / "phone.explanation.wav")
    expected_length = math.ceil(sf.info(audio["flac"]).frames * RATE / 8000)
    assert (sr, len(wav)) == (RATE, expected_length) and np.isfinite(wav).all() and np.abs(wav).max() > 0


def test_progress_logged_per_file_and_no_temporaries_left(explained, audio):
    lines = [line for line in explained["log"].splitlines() if "] " in line and " -> " in line]
    assert len(lines) == 3
    for i, kind in enumerate(("wav", "flac", "ogg"), 1):
        assert f"[{i}/3] {audio[kind]}" in lines[i - 1]
    assert sorted(p.name for p in explained["out"].iterdir()) == sorted(
        f"{audio[k].stem}{s}" for k in ("wav", "flac", "ogg") for s in OUTPUTS
    )


def test_top_k_and_normalisation_options(models, audio, tmp_path):
    code = run_cli(
        "explain", audio["flac"], "-o", tmp_path, "--top-k", "2", "--normalisation", "none", *model_args(models)
    )
    assert code == 0
    record = json.loads((tmp_path / "phone.json").read_text())
    assert len(record["top_k"]) == 2
    assert record["top_k"][0]["probability"] >= record["top_k"][1]["probability"]
    assert record["normalisation"]["method"] == "none"


def test_silent_clip_is_explained_unnormalised(models, tmp_path):
    sf.write(tmp_path / "silence.wav", np.zeros(8000, dtype=np.float32), RATE)
    assert run_cli("explain", tmp_path / "silence.wav", "-o", tmp_path / "out", *model_args(models)) == 0
    record = json.loads((tmp_path / "out" / "silence.json").read_text())
    assert record["normalisation"] == {"method": "peak_abs", "peak_before": 0.0, "left_unnormalised": True}
    assert all(math.isfinite(v) for v in record["metrics"].values())
    written, _ = sf.read(tmp_path / "out" / "silence.explanation.wav", dtype="float32")
    assert np.abs(written).max() < 1e-5


# --------------------------------------------------------------------------------------------
# names


def test_same_stem_in_different_folders_does_not_overwrite(models, audio, tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
    shutil.copy(audio["wav"], tmp_path / "a" / "clip.wav")
    shutil.copy(audio["flac"], tmp_path / "a" / "clip.flac")
    shutil.copy(audio["ogg"], tmp_path / "b" / "clip.ogg")
    inputs = [tmp_path / "a" / "clip.wav", tmp_path / "a" / "clip.flac", tmp_path / "b" / "clip.ogg"]
    code = run_cli("explain", *inputs, inputs[0], "-o", tmp_path / "out", *model_args(models))
    assert code == 0
    expected = {"a__clip_wav": inputs[0], "a__clip_flac": inputs[1], "b__clip": inputs[2]}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        f"{name}{s}" for name in expected for s in OUTPUTS
    )  # the repeated input is explained once
    for name, source in expected.items():
        assert json.loads((tmp_path / "out" / f"{name}.json").read_text())["input"] == str(source)


def test_output_names():
    assert output_names([Path("/d/x.wav"), Path("/d/y.wav")]) == ["x", "y"]
    assert output_names([Path("/p/a/s.wav"), Path("/q/a/s.wav"), Path("/p/t.wav")]) == ["p__a__s", "q__a__s", "t"]
    assert output_names([Path("/d/s.wav"), Path("/d/s.flac")]) == ["s_wav", "s_flac"]


# --------------------------------------------------------------------------------------------
# default checkpoints


def lay_out_results(root: Path, models: dict) -> None:
    (root / "results" / "embedded" / "classifier").mkdir(parents=True)
    (root / "results" / "embedded" / "explainers" / "lmac" / "seed1234").mkdir(parents=True)
    shutil.copy(models["classifier"], root / "results" / "embedded" / "classifier" / "model.pt")
    shutil.copy(models["explainer"], root / "results" / "embedded" / "explainers" / "lmac" / "seed1234" / "model.pt")


def test_default_checkpoints_from_results(models, audio, tmp_path, monkeypatch):
    lay_out_results(tmp_path, models)
    monkeypatch.chdir(tmp_path)  # no config/config.yaml here: explain needs none
    assert run_cli("explain", audio["ogg"], "-o", "out", "--device", "cpu") == 0
    record = json.loads((tmp_path / "out" / "field.json").read_text())
    assert record["classifier"]["checkpoint"] == "results/embedded/classifier/model.pt"
    assert record["explainer"]["checkpoint"] == "results/embedded/explainers/lmac/seed1234/model.pt"


@pytest.mark.parametrize(
    "missing", ["results/embedded/classifier/model.pt", "results/embedded/explainers/lmac/seed1234/model.pt"]
)
def test_missing_default_checkpoint(models, audio, tmp_path, monkeypatch, capsys, missing):
    lay_out_results(tmp_path, models)
    (tmp_path / missing).unlink()
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    line = assert_one_line_error(run_cli("explain", audio["ogg"], "-o", "out"), capsys, missing)
    assert "make reproduce" in line
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------------------------
# bad input: one line, exit 2, nothing written


def bad_audio(kind: str, root: Path) -> tuple[Path, str]:
    """A bad input of ``kind`` and a phrase its error message must contain."""
    path = root / f"bad_{kind}.wav"
    if kind == "missing":
        return path, "no such file"
    if kind == "folder":
        path.mkdir()
        return path, "folder"
    if kind == "not_audio":
        path.write_text("filename,fold,target,category\n1-100032-A-0.wav,1,0,dog\n")
        return path, "not a readable audio file"
    if kind == "zero_bytes":
        path.write_bytes(b"")
        return path, "not a readable audio file"
    if kind == "zero_samples":
        sf.write(path, np.zeros((0, 2), dtype=np.float32), 44100)
        return path, "0 samples"
    if kind in ("nan", "inf"):
        data = np.full(RATE, 0.1, dtype=np.float32)
        data[100:103] = np.nan if kind == "nan" else np.inf
        sf.write(path, data, RATE, subtype="FLOAT")
        return path, "3 of 16000 samples are NaN or infinite"
    if kind == "shorter_than_window":  # 300 samples at 8 kHz → 600 at 16 kHz < n_fft
        sf.write(path, np.full(300, 0.1, dtype=np.float32), 8000)
        return path, "too short"
    if kind == "too_short_for_cnn14":  # longer than n_fft, but fewer than 32 STFT frames
        sf.write(path, np.full(3000, 0.1, dtype=np.float32), RATE)
        return path, "needs at least 5766"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "missing",
        "folder",
        "not_audio",
        "zero_bytes",
        "zero_samples",
        "nan",
        "inf",
        "shorter_than_window",
        "too_short_for_cnn14",
    ],
)
def test_bad_audio(models, audio, tmp_path, capsys, kind):
    path, phrase = bad_audio(kind, tmp_path)
    capsys.readouterr()
    code = run_cli("explain", audio["wav"], path, "-o", tmp_path / "out", *model_args(models))
    line = assert_one_line_error(code, capsys, path, phrase)
    assert line.startswith(f"lmac: error: {path}: ")
    assert not (tmp_path / "out").exists()  # not even the good file's outputs


def garbage(root: Path) -> Path:
    path = root / "garbage.pt"
    path.write_bytes(bytes(range(256)) * 8)
    return path


@pytest.mark.parametrize(
    "case",
    [
        "classifier_garbage",
        "explainer_garbage",
        "classifier_as_explainer",
        "explainer_as_classifier",
        "explainer_for_other_width",
        "classifier_missing",
    ],
)
def test_bad_checkpoint(models, audio, tmp_path, capsys, case):
    clf, expl = models["classifier"], models["explainer"]
    if case == "classifier_garbage":
        clf = named = garbage(tmp_path)
        phrase = "not a readable PyTorch checkpoint"
    elif case == "explainer_garbage":
        expl = named = garbage(tmp_path)
        phrase = "not a readable PyTorch checkpoint"
    elif case == "classifier_as_explainer":
        expl = named = models["classifier"]
        phrase = "'classifier' checkpoint"
    elif case == "explainer_as_classifier":
        clf = named = models["explainer"]
        phrase = "'lmac' checkpoint"
    elif case == "explainer_for_other_width":
        expl = named = models["other_width"]
        phrase = "width"
    else:
        clf = named = tmp_path / "nowhere.pt"
        phrase = "not found"
    capsys.readouterr()
    code = run_cli("explain", audio["wav"], "-o", tmp_path / "out", "--classifier", clf, "--explainer", expl)
    assert_one_line_error(code, capsys, f"lmac: error: {named}: ", phrase)
    assert not (tmp_path / "out").exists()


def test_bad_options(models, audio, tmp_path, capsys):
    capsys.readouterr()
    assert_one_line_error(
        run_cli("explain", audio["wav"], "-o", tmp_path / "out", "--top-k", "0", *model_args(models)), capsys, "--top-k"
    )
    assert_one_line_error(
        run_cli("explain", audio["wav"], "-o", tmp_path / "out", "--normalisation", "rms", *model_args(models)),
        capsys,
        "--normalisation",
        "rms",
    )
    (tmp_path / "file").write_text("")
    assert_one_line_error(
        run_cli("explain", audio["wav"], "-o", tmp_path / "file", *model_args(models)),
        capsys,
        tmp_path / "file",
        "not a folder",
    )
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------------------------
# the installed console script


def test_console_script(models, audio, tmp_path):
    """The entry point works, and in a fresh process (where the model code is imported for the
    first time, with whatever it logs on import) a bad file still gives exactly one line."""
    script = Path(sys.executable).parent / "lmac"
    assert script.is_file(), f"console script not installed next to {sys.executable}"
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio\n")
    proc = subprocess.run(
        [
            str(script),
            "explain",
            str(audio["flac"]),
            str(bad),
            "-o",
            str(tmp_path / "out"),
            *map(str, model_args(models)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"lmac: error: {bad}: not a readable audio file"), proc.stderr
    assert not (tmp_path / "out").exists()

    proc = subprocess.run(
        [str(script), "explain", str(audio["flac"]), "-o", str(tmp_path / "out"), *map(str, model_args(models))],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "[1/1]" in proc.stderr
    record = json.loads((tmp_path / "out" / "phone.json").read_text())
    assert record["sample_rate"] == RATE and sf.info(tmp_path / "out" / "phone.explanation.wav").samplerate == RATE
