"""prepare_dataset / load_prepared on tiny ESC-50-layout folders."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
import torchaudio
from esc50_fixture import make_esc50_folder  # noqa: E402

from lmac.data.prepare import load_prepared, prepare_dataset  # noqa: E402
from lmac.errors import LmacError  # noqa: E402

COLUMNS = ["index", "id", "filename", "fold", "split", "label", "category", "duration_s"]


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    """3 classes x 5 folds x 2 clips, 0.5 s at 44.1 kHz, a third of them stereo. Read-only!"""
    return make_esc50_folder(tmp_path_factory.mktemp("raw"), n_classes=3, clips_per_fold=2)


@pytest.fixture(scope="module")
def prepared(raw, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("prepared") / "esc50"
    prepare_dataset(raw, out, sample_rate=16000, clip_seconds=0.5)
    return out


def _copy(raw: Path, dst: Path) -> Path:
    import shutil

    return Path(shutil.copytree(raw, dst))


def _write_dataset(root: Path, clips: dict[str, np.ndarray], sr: int, rows: list[dict]) -> Path:
    """A hand-made ESC-50-layout folder: ``clips`` maps filename -> [samples] or [samples, ch]."""
    (root / "audio").mkdir(parents=True)
    (root / "meta").mkdir()
    for name, wav in clips.items():
        sf.write(root / "audio" / name, wav, sr, subtype="FLOAT")  # float: no quantisation
    pd.DataFrame(rows).to_csv(root / "meta" / "esc50.csv", index=False)
    return root


def test_shapes_and_files(prepared):
    audio, manifest, classes = load_prepared(prepared)
    assert isinstance(audio, np.memmap) and audio.dtype == np.float32
    assert audio.shape == (30, 8000)  # 0.5 s at 16 kHz
    assert list(manifest.columns) == COLUMNS
    assert manifest["index"].tolist() == list(range(30))
    assert classes == ["dog", "rooster", "pig"]
    assert sorted(p.name for p in prepared.iterdir()) == ["audio.npy", "classes.txt", "manifest.csv", "prepare.json"]
    info = json.loads((prepared / "prepare.json").read_text())
    assert info["audio_sha256"] == hashlib.sha256((prepared / "audio.npy").read_bytes()).hexdigest()
    assert info["counts"]["per_split"] == {"train": 18, "valid": 6, "test": 6}
    assert info["source"]["sample_rates"] == {"44100": 30}
    assert info["source"]["channels"] == {"1": 20, "2": 10}
    assert np.allclose(np.abs(audio).max(axis=1), 1.0)  # peak_abs default
    assert np.allclose(manifest["duration_s"], 0.5)


def test_split_assignment_and_ordering(prepared):
    _, manifest, _ = load_prepared(prepared)
    expect = {1: "train", 2: "train", 3: "train", 4: "valid", 5: "test"}
    assert (manifest["split"] == manifest["fold"].map(expect)).all()
    # contiguous blocks train, valid, test; filename-sorted inside each
    assert manifest["split"].tolist() == ["train"] * 18 + ["valid"] * 6 + ["test"] * 6
    for _, block in manifest.groupby("split"):
        assert block["filename"].tolist() == sorted(block["filename"])
    assert (manifest["id"] + ".wav" == manifest["filename"]).all()
    # labels follow the target column encoded in the filename
    assert (manifest["label"] == manifest["filename"].str.extract(r"-(\d+)\.wav$")[0].astype(int)).all()


def test_custom_splits_drop_unused_folds(raw, tmp_path):
    prepare_dataset(raw, tmp_path / "o", clip_seconds=0.5, splits={"train": [2, 3], "test": 5})
    audio, manifest, _ = load_prepared(tmp_path / "o")
    assert sorted(manifest["fold"].unique()) == [2, 3, 5]
    assert audio.shape[0] == len(manifest) == 18
    assert set(manifest.loc[manifest["fold"] == 5, "split"]) == {"test"}


def test_overlapping_splits_rejected(raw, tmp_path):
    with pytest.raises(LmacError, match="fold 3 is in both"):
        prepare_dataset(raw, tmp_path / "o", splits={"train": [1, 2, 3], "test": [3]})


def test_resampling_matches_torchaudio_and_reference_pipeline(raw, prepared):
    """Row == the reference's dataio_prep: mean of channels, Resample(44.1k->16k), sig / sig.max()."""
    audio, manifest, _ = load_prepared(prepared)
    # redo with the reference's normalisation to compare against its literal pipeline
    for k in (0, 1, 7):  # k=0 and k=... include stereo clips
        row = manifest.iloc[k]
        data, sr = sf.read(raw / "audio" / row["filename"], dtype="float32", always_2d=True)
        sig = torch.from_numpy(data.T.copy())
        sig = torch.mean(sig, dim=0) if sig.shape[0] > 1 else sig[0]
        sig = torchaudio.transforms.Resample(orig_freq=sr, new_freq=16000)(sig)
        assert sig.shape[0] == 8000
        expected = (sig / sig.abs().max()).numpy()
        np.testing.assert_array_equal(audio[k], expected)  # bit-identical


def test_peak_signed_reproduces_reference_division(raw, tmp_path):
    prepare_dataset(raw, tmp_path / "o", clip_seconds=0.5, normalisation="peak_signed")
    audio, manifest, _ = load_prepared(tmp_path / "o")
    row = manifest.iloc[4]
    data, sr = sf.read(raw / "audio" / row["filename"], dtype="float32", always_2d=True)
    sig = torch.from_numpy(data.T.copy()).mean(dim=0)
    sig = torchaudio.transforms.Resample(orig_freq=sr, new_freq=16000)(sig)
    np.testing.assert_allclose(audio[4], (sig / sig.max()).numpy(), atol=2e-6)
    assert np.allclose(audio.max(axis=1), 1.0)


def test_sine_frequency_survives_resampling(tmp_path):
    sr, f0 = 44100, 1000.0
    t = np.arange(int(sr * 0.5)) / sr
    raw = _write_dataset(
        tmp_path / "raw",
        {"1-1-A-0.wav": 0.3 * np.sin(2 * np.pi * f0 * t)},
        sr,
        [{"filename": "1-1-A-0.wav", "fold": 1, "target": 0, "category": "tone"}],
    )
    prepare_dataset(raw, tmp_path / "o", sample_rate=16000, clip_seconds=0.5, splits={"train": [1]})
    audio, _, _ = load_prepared(tmp_path / "o")
    spectrum = np.abs(np.fft.rfft(audio[0]))
    assert np.fft.rfftfreq(8000, 1 / 16000)[spectrum.argmax()] == pytest.approx(f0)
    assert np.abs(audio[0]).max() == pytest.approx(1.0)


def test_stereo_downmix_is_channel_mean(tmp_path):
    rng = np.random.default_rng(1)
    left, right = rng.uniform(-0.5, 0.5, 1600), rng.uniform(-0.2, 0.9, 1600)
    raw = _write_dataset(
        tmp_path / "raw",
        {"1-1-A-0.wav": np.stack([left, right], axis=1)},
        16000,
        [{"filename": "1-1-A-0.wav", "fold": 1, "target": 0, "category": "x"}],
    )
    prepare_dataset(
        raw, tmp_path / "o", sample_rate=16000, clip_seconds=0.1, splits={"train": [1]}, normalisation="none"
    )
    audio, _, _ = load_prepared(tmp_path / "o")
    np.testing.assert_allclose(audio[0], ((left.astype(np.float32) + right.astype(np.float32)) / 2), atol=1e-7)


def test_crop_and_pad(tmp_path):
    clips = {"1-1-A-0.wav": np.full(3000, 0.5), "1-2-A-0.wav": np.full(500, 0.25)}
    rows = [{"filename": n, "fold": 1, "target": 0, "category": "x"} for n in clips]
    raw = _write_dataset(tmp_path / "raw", clips, 16000, rows)
    prepare_dataset(raw, tmp_path / "o", clip_seconds=0.1, splits={"train": [1]}, normalisation="none")
    audio, manifest, _ = load_prepared(tmp_path / "o")
    assert audio.shape == (2, 1600)
    np.testing.assert_array_equal(audio[0], np.full(1600, 0.5, np.float32))
    np.testing.assert_array_equal(audio[1], np.r_[np.full(500, 0.25), np.zeros(1100)].astype(np.float32))
    assert manifest["duration_s"].tolist() == pytest.approx([3000 / 16000, 500 / 16000])


def test_peak_abs_vs_peak_signed_when_negative_peak_is_larger(tmp_path):
    wav = np.array([0.1, -0.8, 0.4, -0.2, 0.0, 0.3] * 10, dtype=np.float32)  # |min| > max
    silent = np.zeros(60, dtype=np.float32)
    clips = {"1-1-A-0.wav": wav, "1-2-A-0.wav": silent}
    rows = [{"filename": n, "fold": 1, "target": 0, "category": "x"} for n in clips]
    raw = _write_dataset(tmp_path / "raw", clips, 600, rows)
    results = {}
    for norm in ("peak_abs", "peak_signed", "none"):
        prepare_dataset(
            raw, tmp_path / norm, sample_rate=600, clip_seconds=0.1, splits={"train": [1]}, normalisation=norm
        )
        results[norm] = np.asarray(load_prepared(tmp_path / norm)[0])
    np.testing.assert_allclose(results["none"][0], wav)
    np.testing.assert_allclose(results["peak_abs"][0], wav / 0.8, rtol=1e-6)
    np.testing.assert_allclose(results["peak_signed"][0], wav / 0.4, rtol=1e-6)
    assert results["peak_abs"][0].min() == pytest.approx(-1.0)
    assert results["peak_signed"][0].min() == pytest.approx(-2.0)  # |x| > 1, as the reference
    for norm in results:  # silence stays silent, no NaN
        np.testing.assert_array_equal(results[norm][1], silent)
    info = json.loads((tmp_path / "peak_abs" / "prepare.json").read_text())
    assert info["unnormalised_clips"] == ["1-2-A-0"]


def test_silent_clip_warns(tmp_path, caplog):
    raw = _write_dataset(
        tmp_path / "raw",
        {"1-1-A-0.wav": np.zeros(100)},
        1000,
        [{"filename": "1-1-A-0.wav", "fold": 1, "target": 0, "category": "x"}],
    )
    with caplog.at_level(logging.WARNING, logger="lmac.data"):
        prepare_dataset(raw, tmp_path / "o", sample_rate=1000, clip_seconds=0.1, splits={"train": [1]})
    assert any("1-1-A-0" in r.getMessage() and "unnormalised" in r.getMessage() for r in caplog.records)


def _label_order_dataset(tmp_path) -> Path:
    # targets: dog=0, rain=1, cat=2.  Train (folds 1-3) sorted by filename meets cat, dog, rain;
    # the csv rows are deliberately *not* filename-sorted (reverse), so a csv-order encoder
    # would see rain first.
    specs = [
        ("1-100-A-2.wav", 1, 2, "cat"),
        ("1-200-A-0.wav", 1, 0, "dog"),
        ("2-050-A-1.wav", 2, 1, "rain"),
        ("3-300-A-0.wav", 3, 0, "dog"),
        ("4-010-A-1.wav", 4, 1, "rain"),
        ("5-010-A-2.wav", 5, 2, "cat"),
    ]
    clips = {name: np.full(100, 0.1 * (i + 1)) for i, (name, *_rest) in enumerate(specs)}
    rows = [{"filename": n, "fold": f, "target": t, "category": c} for n, f, t, c in reversed(specs)]
    return _write_dataset(tmp_path / "raw", clips, 1000, rows)


def test_label_order_target_vs_first_appearance(tmp_path):
    raw = _label_order_dataset(tmp_path)
    prepare_dataset(raw, tmp_path / "t", sample_rate=1000, clip_seconds=0.1, label_order="target")
    prepare_dataset(raw, tmp_path / "f", sample_rate=1000, clip_seconds=0.1, label_order="first_appearance")
    _, m_t, c_t = load_prepared(tmp_path / "t")
    _, m_f, c_f = load_prepared(tmp_path / "f")
    assert c_t == ["dog", "rain", "cat"]
    assert c_f == ["cat", "dog", "rain"]
    for m, c in ((m_t, c_t), (m_f, c_f)):
        assert [c[i] for i in m["label"]] == m["category"].tolist()
    assert m_t["filename"].tolist() == m_f["filename"].tolist()


def test_first_appearance_matches_speechbrain_categorical_encoder(tmp_path):
    encoder_mod = pytest.importorskip("speechbrain.dataio.encoder")
    raw = _label_order_dataset(tmp_path)
    prepare_dataset(raw, tmp_path / "f", sample_rate=1000, clip_seconds=0.1, label_order="first_appearance")
    _, manifest, classes = load_prepared(tmp_path / "f")
    encoder = encoder_mod.CategoricalEncoder()
    encoder.update_from_iterable(manifest.loc[manifest["split"] == "train", "category"])
    assert [encoder.ind2lab[i] for i in range(len(encoder))] == classes


def test_inconsistent_target_category_rejected(tmp_path):
    raw = _write_dataset(
        tmp_path / "raw",
        {"1-1-A-0.wav": np.ones(10), "1-2-A-1.wav": np.ones(10)},
        100,
        [
            {"filename": "1-1-A-0.wav", "fold": 1, "target": 0, "category": "dog"},
            {"filename": "1-2-A-1.wav", "fold": 1, "target": 1, "category": "dog"},
        ],
    )
    with pytest.raises(LmacError, match="category 'dog' has several values of 'target'"):
        prepare_dataset(raw, tmp_path / "o", sample_rate=100, clip_seconds=0.1)


def test_expected_counts(raw, tmp_path):
    with pytest.raises(LmacError, match="expected 2000 clips, found 30"):
        prepare_dataset(raw, tmp_path / "o", expect_clips=2000, expect_classes=50)
    with pytest.raises(LmacError, match="expected 50 classes, found 3"):
        prepare_dataset(raw, tmp_path / "o", expect_clips=30, expect_classes=50)
    assert not (tmp_path / "o" / "manifest.csv").exists()


def test_missing_file_named(raw, tmp_path):
    copy = _copy(raw, tmp_path / "raw")
    victim = sorted((copy / "audio").iterdir())[5]
    victim.unlink()
    with pytest.raises(LmacError) as err:
        prepare_dataset(copy, tmp_path / "o", clip_seconds=0.5)
    assert victim.name in str(err.value) and "missing" in str(err.value)


def test_missing_column_named(raw, tmp_path):
    copy = _copy(raw, tmp_path / "raw")
    csv = copy / "meta" / "esc50.csv"
    pd.read_csv(csv).drop(columns=["fold"]).to_csv(csv, index=False)
    with pytest.raises(LmacError, match="missing column 'fold'"):
        prepare_dataset(copy, tmp_path / "o")


@pytest.mark.parametrize(
    "kw, bad", [({"normalisation": "rms"}, "rms"), ({"label_order": "alphabetical"}, "alphabetical")]
)
def test_unknown_option_values(raw, tmp_path, kw, bad):
    with pytest.raises(LmacError, match=f"'{bad}'"):
        prepare_dataset(raw, tmp_path / "o", **kw)


def test_unreadable_audio_named(raw, tmp_path):
    copy = _copy(raw, tmp_path / "raw")
    victim = sorted((copy / "audio").iterdir())[0]
    victim.write_bytes(b"not audio at all")
    with pytest.raises(LmacError, match=victim.name):
        prepare_dataset(copy, tmp_path / "o", clip_seconds=0.5)


def test_failed_run_leaves_nothing_finished(raw, tmp_path):
    copy = _copy(raw, tmp_path / "raw")
    out = tmp_path / "o"
    prepare_dataset(copy, out, clip_seconds=0.5)  # a good run first ...
    assert (out / "manifest.csv").exists()
    victim = sorted((copy / "audio").iterdir())[-1]
    victim.write_bytes(b"garbage")  # ... then one failing mid-decoding
    with pytest.raises(LmacError):
        prepare_dataset(copy, out, clip_seconds=0.5)
    assert not (out / "manifest.csv").exists() and not (out / "prepare.json").exists()
    assert [p.name for p in out.iterdir()] == []  # no temp files, no stale outputs
    with pytest.raises(LmacError, match="not a prepared dataset"):
        load_prepared(out)


def test_load_prepared_round_trip(raw, prepared):
    audio, manifest, classes = load_prepared(prepared)
    assert not audio.flags.writeable
    on_disk = np.load(prepared / "audio.npy")
    np.testing.assert_array_equal(np.asarray(audio), on_disk)
    assert (prepared / "classes.txt").read_text().splitlines() == classes
    assert pd.api.types.is_string_dtype(manifest["id"]) and manifest["label"].dtype == np.int64
    # row i of audio is the clip named in row i of the manifest
    k = 11
    data, sr = sf.read(raw / "audio" / manifest.loc[k, "filename"], dtype="float32", always_2d=True)
    sig = torchaudio.transforms.Resample(sr, 16000)(torch.from_numpy(data.T.copy()).mean(dim=0))
    np.testing.assert_allclose(audio[k], (sig / sig.abs().max()).numpy(), atol=1e-7)


def test_load_prepared_detects_mismatch(prepared, tmp_path):
    import shutil

    out = Path(shutil.copytree(prepared, tmp_path / "p"))
    manifest = pd.read_csv(out / "manifest.csv")
    manifest.iloc[:-1].to_csv(out / "manifest.csv", index=False)
    with pytest.raises(LmacError, match="30"):
        load_prepared(out)


@pytest.mark.parametrize(
    "name,content,needle",
    [
        ("manifest.csv", b"", "manifest.csv: not a readable csv"),
        ("manifest.csv", b'index,id\n"unclosed\n', "manifest.csv: not a readable csv"),
        ("classes.txt", b"\xff\xfe\x00\x01", "classes.txt: not a text file"),
    ],
)
def test_load_prepared_unreadable_files_named(prepared, tmp_path, name, content, needle):
    import shutil

    out = Path(shutil.copytree(prepared, tmp_path / "p"))
    (out / name).write_bytes(content)
    with pytest.raises(LmacError, match=needle):
        load_prepared(out)


def test_output_that_is_a_file(raw, tmp_path):
    (tmp_path / "out").write_text("mine")
    with pytest.raises(LmacError, match="out: exists and is not a folder"):
        prepare_dataset(raw, tmp_path / "out", sample_rate=16000, clip_seconds=0.5)
    assert (tmp_path / "out").read_text() == "mine"


def test_deterministic(raw, prepared, tmp_path):
    prepare_dataset(raw, tmp_path / "again", sample_rate=16000, clip_seconds=0.5)
    assert (tmp_path / "again" / "audio.npy").read_bytes() == (prepared / "audio.npy").read_bytes()
    assert (tmp_path / "again" / "manifest.csv").read_text() == (prepared / "manifest.csv").read_text()
