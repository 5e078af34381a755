"""The synthetic ESC-50-layout dataset: layout, determinism, ground truth, audio, errors, atomicity.

Small configurations (1 s clips, a handful of clips per class) keep every test to seconds.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

import lmac.io
from lmac.data.synthetic import EVENT_TYPES, generate_synthetic_dataset
from lmac.errors import LmacError
from lmac.frontend import FrontEnd, FrontEndConfig

SR = 16000
SMALL = {
    "n_classes": 3,
    "clips_per_class": 3,
    "n_folds": 3,
    "clip_seconds": 1.0,
    "sample_rate": SR,
    "event_seconds": [0.2, 0.5],
    "event_snr_db": [0, 10],
    "n_distractors": [0, 2],
    "distractor_snr_db": [-5, 5],
}
# Written out literally (not imported) so a change to the module cannot silently pass.
ESC50_COLUMNS = ["filename", "fold", "target", "category", "esc10", "src_file", "take"]
GT_COLUMNS = [
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
NAME = re.compile(r"^(\d+)-(\d{6})-([A-Z])-(\d+)\.wav$")


def _generate(out: Path, cfg: dict | None = None, seed: int = 7, frontend: FrontEndConfig | None = None) -> Path:
    generate_synthetic_dataset(out, {**SMALL, **(cfg or {})}, frontend or FrontEndConfig(sample_rate=SR), seed)
    return out


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """One small dataset shared by the read-only tests."""
    return _generate(tmp_path_factory.mktemp("synth") / "synthetic")


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_event_types_are_distinct_snake_case_names():
    assert len(EVENT_TYPES) >= 10
    assert len(set(EVENT_TYPES)) == len(EVENT_TYPES)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", name) for name in EVENT_TYPES)


def test_layout_matches_esc50(dataset):
    meta = pd.read_csv(dataset / "meta" / "esc50.csv")
    assert list(meta.columns) == ESC50_COLUMNS
    n_clips = SMALL["n_classes"] * SMALL["clips_per_class"]
    assert len(meta) == n_clips
    # Every listed clip exists and nothing else is in audio/.
    assert sorted(p.name for p in (dataset / "audio").iterdir()) == sorted(meta.filename)
    for row in meta.itertuples():
        match = NAME.match(row.filename)
        assert match, row.filename
        fold, src_file, take, target = match.groups()
        assert (int(fold), int(src_file), take, int(target)) == (row.fold, row.src_file, row.take, row.target)
        assert row.category == EVENT_TYPES[row.target]
    assert meta.src_file.is_unique
    assert (meta["take"] == "A").all()
    assert not meta.esc10.astype(bool).any()
    assert sorted(meta.target.unique()) == list(range(SMALL["n_classes"]))
    # Each fold holds clips_per_class / n_folds clips of every class.
    counts = pd.crosstab(meta.target, meta.fold)
    assert counts.shape == (SMALL["n_classes"], SMALL["n_folds"])
    assert (counts.to_numpy() == SMALL["clips_per_class"] // SMALL["n_folds"]).all()
    # The ground-truth table describes the same clips with the same labels.
    gt = pd.read_csv(dataset / "meta" / "ground_truth.csv")
    assert list(gt.columns) == GT_COLUMNS
    merged = meta.merge(gt, on="filename", suffixes=("", "_gt"), validate="one_to_one")
    assert len(merged) == n_clips
    assert (merged.target == merged.target_gt).all() and (merged.category == merged.category_gt).all()
    # No temporary directory is left next to the output.
    assert [p.name for p in dataset.parent.iterdir()] == [dataset.name]


def test_audio_format_and_level(dataset):
    for path in sorted((dataset / "audio").iterdir()):
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (SR, 1, "PCM_16")
        assert info.frames == int(SMALL["clip_seconds"] * SR)
        wav, _ = sf.read(path, dtype="float64")
        assert np.isfinite(wav).all()
        # Peak-normalised to 0.9 (up to 16-bit rounding), never clipped.
        assert np.max(np.abs(wav)) == pytest.approx(0.9, abs=1e-3)


def test_ground_truth_rows_are_consistent(dataset):
    gt = pd.read_csv(dataset / "meta" / "ground_truth.csv")
    lo, hi = SMALL["event_seconds"]
    assert (gt.onset_s >= 0).all() and (gt.offset_s <= SMALL["clip_seconds"]).all()
    duration = gt.offset_s - gt.onset_s
    assert (duration >= lo - 1e-3).all() and (duration <= hi + 1e-3).all()
    assert ((gt.f_low_hz >= 0) & (gt.f_low_hz <= gt.f_high_hz) & (gt.f_high_hz <= SR / 2)).all()
    assert gt.event_snr_db.between(*SMALL["event_snr_db"]).all()
    assert gt.n_distractors.between(*SMALL["n_distractors"]).all()


def test_masks_cover_the_event_only(dataset):
    fe_cfg = FrontEndConfig(sample_rate=SR)
    fe = FrontEnd(fe_cfg)
    gt = pd.read_csv(dataset / "meta" / "ground_truth.csv")
    n_samples = int(SMALL["clip_seconds"] * SR)
    with np.load(dataset / "meta" / "ground_truth_masks.npz") as masks:
        assert sorted(masks.files) == sorted(f[:-4] for f in gt.filename)
        for row in gt.itertuples():
            mask = masks[row.filename[:-4]]
            assert mask.dtype == bool
            assert mask.shape == (fe_cfg.n_frames(n_samples), fe_cfg.n_freqs)
            assert mask.any(), row.filename
            # Only frames centred inside [onset, offset] may be marked.
            centres = np.flatnonzero(mask.any(axis=1)) * fe_cfg.hop_length / SR
            assert centres.min() >= row.onset_s - 1e-9 and centres.max() <= row.offset_s + 1e-9
            # The mask marks where the clip actually is loud: masked bins clearly exceed the
            # unmasked bins of the same frames (a mask misaligned in time or frequency would not).
            wav, _ = sf.read(dataset / "audio" / row.filename, dtype="float32")
            logspec = fe.log_spectrogram(torch.from_numpy(wav)[None])[0].numpy()
            frames = mask.any(axis=1)
            inside = logspec[mask].mean()
            outside = logspec[frames][~mask[frames]].mean()
            assert inside > outside + 0.5, row.filename


def test_same_seed_same_bytes_other_seed_other_audio(tmp_path):
    a = _files(_generate(tmp_path / "a", seed=3))
    b = _files(_generate(tmp_path / "b", seed=3))
    assert a.keys() == b.keys() and len(a) == SMALL["n_classes"] * SMALL["clips_per_class"] + 3
    assert a == b  # masks archive included: it must not carry a timestamp
    c = _files(_generate(tmp_path / "c", seed=4))
    wavs = [k for k in a if k.endswith(".wav")]
    assert all(a[k] != c[k] for k in wavs)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"n_classes": len(EVENT_TYPES) + 1}, "n_classes"),
        ({"n_classes": 1}, "n_classes"),
        ({"n_classes": 2.5}, "n_classes"),
        ({"clips_per_class": 5}, "clips_per_class"),  # not a multiple of n_folds=3
        ({"n_folds": 0}, "n_folds"),
        ({"n_folds": 2}, "n_folds"),  # the config schema's minimum (train, valid, test): once 1 here
        ({"event_seconds": [0.5, 0.2]}, "event_seconds"),
        ({"event_seconds": [0.5]}, "event_seconds"),
        ({"event_seconds": [0.5, 2.0]}, "clip_seconds"),  # event longer than the 1 s clip
        ({"event_snr_db": ["loud", 3]}, "event_snr_db"),
        ({"distractor_snr_db": [0, float("nan")]}, "distractor_snr_db"),
        ({"n_distractors": [-1, 2]}, "n_distractors"),
        ({"n_distractors": [0, 1.5]}, "n_distractors"),
        ({"sample_rate": 8000}, "sample_rate"),
        ({"n_clases": 3}, "n_clases"),  # a misspelt key must not fall back to the default
    ],
)
def test_bad_config_names_the_key(tmp_path, change, key):
    out = tmp_path / "synthetic"
    with pytest.raises(LmacError, match=re.escape(key)) as err:
        _generate(out, change)
    assert "\n" not in str(err.value)
    assert not out.exists()


def test_sample_rate_must_match_the_front_end(tmp_path):
    with pytest.raises(LmacError, match="sample_rate"):
        _generate(tmp_path / "synthetic", {"sample_rate": 22050}, frontend=FrontEndConfig(sample_rate=SR))


def test_failure_midway_leaves_no_output(tmp_path, monkeypatch):
    real_write_wav = lmac.io.write_wav
    calls = []

    def flaky_write_wav(*args, **kwargs):
        calls.append(args[0])
        if len(calls) > 3:
            raise RuntimeError("disk full")
        real_write_wav(*args, **kwargs)

    monkeypatch.setattr(lmac.io, "write_wav", flaky_write_wav)
    out = tmp_path / "synthetic"
    with pytest.raises(RuntimeError, match="disk full"):
        _generate(out)
    assert len(calls) == 4  # it really failed midway, after writing some files
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # the temporary sibling is gone too


def test_stale_output_is_replaced_only_on_success(tmp_path, monkeypatch):
    out = tmp_path / "synthetic"
    out.mkdir()
    (out / "stale.txt").write_text("old")

    def broken_write_wav(*args, **kwargs):
        raise RuntimeError("boom")

    with monkeypatch.context() as patch:
        patch.setattr(lmac.io, "write_wav", broken_write_wav)
        with pytest.raises(RuntimeError):
            _generate(out)
    assert (out / "stale.txt").read_text() == "old"  # a failed run keeps the previous output

    _generate(out)
    assert not (out / "stale.txt").exists()
    assert (out / "meta" / "esc50.csv").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synthetic"]


def test_classes_are_separable(tmp_path):
    """Guard against indistinguishable classes: even a nearest-centroid classifier on
    time-pooled log-mel features tells the event types apart far above chance."""
    n_classes = len(EVENT_TYPES)
    out = _generate(
        tmp_path / "synthetic",
        {
            "n_classes": n_classes,
            "clips_per_class": 15,
            "n_folds": 3,  # fold 1 trains, fold 2 tests (five clips of each class each); fold 3 is unused
            "event_seconds": [0.3, 0.6],
        },
        seed=11,
    )
    meta = pd.read_csv(out / "meta" / "esc50.csv")
    wavs = np.stack([sf.read(out / "audio" / f, dtype="float32")[0] for f in meta.filename])
    with torch.no_grad():
        logmel = FrontEnd(FrontEndConfig(sample_rate=SR)).features(torch.from_numpy(wavs))
    # Pool over time with the standard deviation, not the mean: the per-clip background colour
    # (pink or brown) dominates a plain mean, while the event is what makes a band vary in time.
    feats = logmel.std(dim=1).numpy()
    y, fold = meta.target.to_numpy(), meta.fold.to_numpy()
    train, test = fold == 1, fold == 2
    mu, sd = feats[train].mean(axis=0), feats[train].std(axis=0) + 1e-6
    feats = (feats - mu) / sd
    centroids = np.stack([feats[train & (y == c)].mean(axis=0) for c in range(n_classes)])
    pred = np.argmin(((feats[test][:, None] - centroids[None]) ** 2).sum(-1), axis=1)
    accuracy = (pred == y[test]).mean()
    # Chance is 0.1; this crude classifier reaches ~0.6 (a small CNN reaches > 0.95).
    assert accuracy >= 0.4, f"nearest-centroid accuracy {accuracy:.2f} (chance {1 / n_classes:.2f})"


def test_the_schema_offers_exactly_the_event_types():
    from lmac.data.synthetic import settings_schema

    assert settings_schema()["properties"]["n_classes"]["maximum"] == len(EVENT_TYPES)
