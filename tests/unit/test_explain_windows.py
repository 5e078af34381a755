"""The pieces ``lmac explain`` cuts, reads, overlap-adds and draws long audio with."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio
from model_fixture import tiny_classifier

from lmac.classifier.model import load_classifier
from lmac.classifier.train import training_clip_seconds
from lmac.errors import LmacError
from lmac.explain_input import BLOCK_FRAMES, WindowReader, resampler_bytes, scan
from lmac.explain_output import (
    MAX_COLUMNS,
    STALE_AFTER_S,
    OverlapAdd,
    SpectrogramSummary,
    is_stale,
    make_temporary,
    open_wav,
    overlaps,
    plan_windows,
    wav_format,
    window_weight,
)

RATE = 16000
SHORTEST = 5766


# --------------------------------------------------------------------------------------------
# where the windows go


def test_plan_windows():
    assert plan_windows(70000, 80000, 80000) == [(0, 70000)]  # shorter than a window: one clip
    assert plan_windows(80000, 80000, 80000) == [(0, 80000)]
    assert plan_windows(240000, 80000, 80000) == [(0, 80000), (80000, 80000), (160000, 80000)]
    # not a whole number of windows: the last is shifted to end at the file's end, never padded
    assert plan_windows(250000, 80000, 80000) == [(0, 80000), (80000, 80000), (160000, 80000), (170000, 80000)]
    assert [s for s, _ in plan_windows(200000, 80000, 40000)] == [0, 40000, 80000, 120000]
    assert plan_windows(10**9, None, None) == [(0, 10**9)]  # --whole-file


def test_window_weights_cross_fade_to_one():
    windows = plan_windows(250000, 80000, 80000)
    assert overlaps(windows, 0) == (0, 0) and overlaps(windows, 2) == (0, 70000) and overlaps(windows, 3) == (70000, 0)
    third, last = window_weight(80000, *overlaps(windows, 2)), window_weight(80000, *overlaps(windows, 3))
    np.testing.assert_allclose(third[10000:] + last[:70000], 1.0, atol=1e-12)  # complementary linear ramps
    assert np.all(third[:10000] == 1.0) and np.all(last[70000:] == 1.0)
    assert np.all(window_weight(80000, 0, 0) == 1.0)  # no overlap: a rectangle
    w = window_weight(1000, 800, 800)  # ramps longer than half the window
    assert w.min() > 0 and w.max() <= 1 and np.argmax(w) in (499, 500)


@pytest.mark.parametrize(
    "total, window, hop", [(250000, 80000, 80000), (250000, 80000, 40000), (123457, 16000, 5000), (16000, 16000, 16000)]
)
def test_overlap_add_of_slices_reconstructs_and_keeps_at_most_a_window(tmp_path, total, window, hop):
    x = np.random.default_rng(0).standard_normal(total)
    windows = plan_windows(total, window, hop)
    writer = OverlapAdd([tmp_path / "a.wav", tmp_path / "b.wav"], total, RATE)
    for i, (start, length) in enumerate(windows):
        final = windows[i + 1][0] if i + 1 < len(windows) else total
        segment = x[start : start + length]
        writer.add(start, [segment, 2 * segment], window_weight(length, *overlaps(windows, i)), final)
        assert writer.weights.shape[0] <= window  # memory: never more than one window pending
    writer.close()
    np.testing.assert_allclose(sf.read(tmp_path / "a.wav")[0], x, atol=1e-6)
    np.testing.assert_allclose(sf.read(tmp_path / "b.wav")[0], 2 * x, atol=2e-6)


def test_overlap_add_refuses_to_reach_back(tmp_path):
    writer = OverlapAdd([tmp_path / "a.wav"], 100, RATE)
    writer.add(0, [np.ones(50)], np.ones(50), 50)
    with pytest.raises(ValueError, match="already written"):
        writer.add(40, [np.ones(50)], np.ones(50), 90)


# --------------------------------------------------------------------------------------------
# reading a window at a time


@pytest.mark.parametrize("rate, channels", [(44100, 2), (22050, 1), (8000, 1), (48000, 2), (11025, 1), (16000, 2)])
def test_window_reader_matches_resampling_the_whole_file(tmp_path, rate, channels):
    data = (0.3 * np.random.default_rng(rate).standard_normal((rate * 12 + 77, channels))).astype(np.float32)
    sf.write(tmp_path / "x.wav", data, rate, subtype="FLOAT")
    source = scan(tmp_path / "x.wav", RATE, SHORTEST)
    mono = torch.from_numpy(data.mean(axis=1, dtype=np.float32) if channels > 1 else data[:, 0].copy())
    whole = torchaudio.transforms.Resample(rate, RATE)(mono[None])[0] if rate != RATE else mono
    assert source.samples == whole.shape[0] == math.ceil(data.shape[0] * RATE / rate)
    with WindowReader(source, RATE) as reader:
        for start, length in [
            (0, 80000),
            (80000, 80000),
            (source.samples - 80000, 80000),
            (12345, 7777),
            (0, source.samples),
            (source.samples - 1, 1),
        ]:
            np.testing.assert_allclose(
                reader.read(start, length).numpy(),
                whole[start : start + length].numpy(),
                atol=1e-6,
                err_msg=f"[{start}, {start + length})",
            )


def test_scan_checks_every_block(tmp_path):
    data = np.full(3 * BLOCK_FRAMES + 5, 0.1, dtype=np.float32)
    data[-2] = np.nan  # in the last block only
    sf.write(tmp_path / "late_nan.wav", data, RATE, subtype="FLOAT")
    with pytest.raises(LmacError, match=f"1 of {data.size} samples are NaN or infinite"):
        scan(tmp_path / "late_nan.wav", RATE, SHORTEST)
    data[-2] = 0.0
    sf.write(tmp_path / "fine.wav", data, RATE, subtype="FLOAT")
    source = scan(tmp_path / "fine.wav", RATE, SHORTEST)
    assert (source.frames, source.samples, source.warnings) == (data.size, data.size, [])


def test_rates_whose_resampler_would_take_gigabytes_are_refused(tmp_path):
    assert resampler_bytes(44100, RATE) < 1 << 20 and resampler_bytes(RATE, RATE) == 0
    sf.write(tmp_path / "odd.wav", np.zeros(44101, dtype=np.float32), 44101)
    with pytest.raises(LmacError, match=r"odd.wav: resampling 44101 Hz to 16000 Hz needs a 5\.3 GiB filter"):
        scan(tmp_path / "odd.wav", RATE, SHORTEST)


# --------------------------------------------------------------------------------------------
# writing


def test_float_wavs_have_no_timestamp(tmp_path):
    x = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    for name in ("a", "b"):
        with open_wav(tmp_path / f"{name}.wav", RATE, len(x)) as handle:
            handle.write(x)
        time.sleep(1.1 if name == "a" else 0)  # libsndfile's PEAK chunk would record a different second
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    assert b"PEAK" not in (tmp_path / "a.wav").read_bytes()
    np.testing.assert_array_equal(sf.read(tmp_path / "a.wav", dtype="float32")[0], x)


def test_rf64_beyond_riff_sizes():
    assert wav_format(3600 * RATE) == "WAV"  # an hour of mono float: 230 MB
    assert wav_format(19 * 3600 * RATE) == "RF64"  # 19 hours: over 4 GiB


def test_spectrogram_summary_is_bounded_and_exact_for_short_clips():
    hop, bins = 186, 513
    hour = SpectrogramSummary(3600 * RATE, hop, bins)
    assert hour.sums.shape[1] <= MAX_COLUMNS and hour.sums.nbytes < 10 * 2**20
    frames = 80000 // hop + 1
    clip = SpectrogramSummary(80000, hop, bins)
    panels = [np.random.default_rng(k).random((frames, bins), dtype=np.float32) for k in range(4)]
    clip.add(0, (0, 80000), panels)
    for got, expected in zip(clip.panels(), panels):
        np.testing.assert_array_equal(got, expected)  # one clip: every frame, as before windows existed
    pooled = SpectrogramSummary(10 * RATE * 100, hop, bins)
    ones = [np.ones((frames, bins), dtype=np.float32)] * 4
    pooled.add(0, (0, 80000), ones)
    filled = pooled.counts > 0
    assert filled.any() and np.all(pooled.panels()[0][filled] == 1.0)
    assert np.isnan(pooled.panels()[0][~filled]).all()  # not reached yet: drawn blank, not as silence


# --------------------------------------------------------------------------------------------
# temporary folders left by killed runs


def test_stale_temporaries(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    mine = make_temporary(tmp_path, "clip")
    assert str(os.getpid()) in mine.name and not is_stale(mine)  # a live run's: kept
    host = mine.name.split("lmac-explain-")[1].rsplit("-", 2)[0]
    killed = tmp_path / f".clip.lmac-explain-{host}-{dead.pid}-abcd1234"
    killed.mkdir()
    assert is_stale(killed)  # its process is gone
    remote = tmp_path / ".clip.lmac-explain-otherhost-1-abcd1234"
    remote.mkdir()
    (remote / "clip.explanation.wav").write_bytes(b"x")
    assert not is_stale(remote)  # elsewhere, and recent
    old = time.time() - STALE_AFTER_S - 60
    for path in (remote / "clip.explanation.wav", remote):
        os.utime(path, (old, old))
    assert is_stale(remote)  # elsewhere, untouched for a day
    for name in (".clip.abcd1234", ".cache", "clip.lmac-explain-x-1-abcd1234"):
        (tmp_path / name).mkdir()
        os.utime(tmp_path / name, (old, old))
        assert not is_stale(tmp_path / name), name  # not ours: never touched


# --------------------------------------------------------------------------------------------
# the classifier records its clip length


def test_classifier_records_its_clip_length(tmp_path):
    classifier = tiny_classifier(["a", "b"])
    classifier.save(tmp_path / "old.pt")  # as checkpoints before clip_seconds was recorded
    assert load_classifier(tmp_path / "old.pt").clip_seconds is None
    classifier.clip_seconds = 2.0
    classifier.save(tmp_path / "new.pt", meta={"seed": 1})
    payload = torch.load(tmp_path / "new.pt", weights_only=True)
    assert payload["meta"] == {"seed": 1, "clip_seconds": 2.0}
    assert "clip_seconds" not in payload["config"]  # the config is part of explainer trainings' fingerprints
    assert load_classifier(tmp_path / "new.pt").clip_seconds == 2.0


def test_training_clip_seconds(tmp_path):
    assert training_clip_seconds(str(tmp_path), 32000, RATE) == 2.0  # no prepare.json: from the array
    (tmp_path / "prepare.json").write_text(json.dumps({"settings": {"clip_seconds": 5.0}}))
    assert training_clip_seconds(str(tmp_path), 32000, RATE) == 5.0


def test_trained_classifier_records_the_prepared_clip_length(tmp_path, tiny_prepared):
    from esc50_fixture import TINY_SR

    from lmac.classifier.train import ClassifierJob
    from lmac.frontend import FrontEndConfig
    from lmac.jobs import Outputs

    tiny = tiny_prepared  # 1-second clips
    out = tmp_path / "classifier"
    cfg = {"width": 0.0625, "epochs": 1, "batch_size": 4, "lr": 1e-3, "weight_decay": 0.0}
    ClassifierJob(
        prepared_dir=tiny["prepared"],
        outputs=Outputs.in_folder(out),
        cfg=cfg,
        frontend=FrontEndConfig(sample_rate=TINY_SR).to_dict(),
        seed=0,
        device="cpu",
    ).run()
    assert load_classifier(out / "model.pt").clip_seconds == 1.0
