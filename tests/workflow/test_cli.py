"""The ``lmac`` console script: one-line errors with exit status 2, and the steps on tiny data."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "tests" / "workflow" / "tiny.yaml"
from esc50_fixture import write_config  # noqa: E402


def lmac(*args, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lmac.cli", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def show(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode}\n--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    assert proc.returncode == 2, show(proc)
    assert "Traceback" not in proc.stderr + proc.stdout, show(proc)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, show(proc)
    assert lines[0].startswith("lmac: error: "), show(proc)
    for needle in needles:
        assert needle in lines[0], show(proc)
    return lines[0]


# --------------------------------------------------------------------------------------------
# configuration errors


def test_missing_config_file(tmp_path):
    proc = lmac("--config", "missing.yaml", "prepare", "--raw", "x", "--out", "y", cwd=tmp_path)
    assert_one_line_error(proc, "missing.yaml", "not found")
    assert not (tmp_path / "y").exists()


def test_bad_config_value_names_the_key(tmp_path):
    config = write_config(tmp_path / "bad.yaml", **{"classifier.width": 2.0})
    proc = lmac("--config", config, "synthesize", "--out", "raw", cwd=tmp_path)
    assert_one_line_error(proc, "config key 'classifier.width'")
    assert not (tmp_path / "raw").exists()


def test_invalid_yaml(tmp_path):
    (tmp_path / "broken.yaml").write_text("seed: [1,\n")
    proc = lmac("--config", "broken.yaml", "synthesize", "--out", "raw", cwd=tmp_path)
    assert_one_line_error(proc, "broken.yaml", "not valid YAML")


def test_config_relying_on_schema_defaults(tmp_path):
    config = yaml.safe_load(TINY.read_text())
    for key in ("sample_rate", "clip_seconds", "splits", "normalisation", "label_order", "esc50"):
        del config["dataset"][key]
    config["dataset"]["synthetic"]["event_seconds"] = [0.2, 0.6]
    config["frontend"] = {}
    (tmp_path / "defaults.yaml").write_text(yaml.safe_dump(config))
    proc = lmac("--config", "defaults.yaml", "synthesize", "--out", "raw", cwd=tmp_path)
    assert proc.returncode == 0, show(proc)
    assert (tmp_path / "raw" / "meta" / "esc50.csv").is_file()


# --------------------------------------------------------------------------------------------
# the steps on tiny data (shared, built once)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("cli")
    config = write_config(root / "tiny.yaml", **{"classifier.epochs": 1, "lmac.epochs": 1})
    proc = lmac("--config", config, "synthesize", "--out", "raw", cwd=root)
    assert proc.returncode == 0, show(proc)
    proc = lmac("--config", config, "prepare", "--raw", "raw", "--out", "data", cwd=root)
    assert proc.returncode == 0, show(proc)
    return {"root": root, "config": config, "data": root / "data"}


def test_synthesize_and_prepare(prepared):
    root, data = prepared["root"], prepared["data"]
    assert (root / "raw" / "meta" / "esc50.csv").is_file()
    assert len(list((root / "raw" / "audio").glob("*.wav"))) == 15
    for name in ("audio.npy", "manifest.csv", "classes.txt"):
        assert (data / name).is_file(), name
    import numpy as np

    audio = np.load(data / "audio.npy", mmap_mode="r")
    assert audio.shape == (15, 16000)  # 3 classes x 5 clips, 1 s at 16 kHz
    with open(data / "manifest.csv", newline="") as fh:
        splits = [row["split"] for row in csv.DictReader(fh)]
    assert sorted(splits) == ["test"] * 3 + ["train"] * 9 + ["valid"] * 3


def test_prepare_missing_raw_folder(prepared, tmp_path):
    proc = lmac(
        "--config",
        prepared["config"],
        "prepare",
        "--raw",
        tmp_path / "nonexistent",
        "--out",
        tmp_path / "out",
        cwd=tmp_path,
    )
    assert_one_line_error(proc, "nonexistent")
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def classifier(prepared) -> Path:
    proc = lmac(
        "--config",
        prepared["config"],
        "train-classifier",
        "--data",
        "data",
        "--out",
        "clf",
        "--device",
        "cpu",
        cwd=prepared["root"],
    )
    assert proc.returncode == 0, show(proc)
    assert "resuming" not in proc.stderr, show(proc)
    return prepared["root"] / "clf"


def test_train_classifier_outputs(classifier):
    for name in ("model.pt", "metrics.json", "history.csv"):
        assert (classifier / name).is_file(), name
    with open(classifier / "history.csv", newline="") as fh:
        history = list(csv.DictReader(fh))
    assert [row["epoch"] for row in history] == ["1"]


def test_train_classifier_resumes_a_complete_work_dir(prepared, classifier):
    history_before = (classifier / "history.csv").read_text()
    proc = lmac(
        "--config",
        prepared["config"],
        "--log",
        "second.log",
        "train-classifier",
        "--data",
        "data",
        "--out",
        "clf",
        "--device",
        "cpu",
        cwd=prepared["root"],
    )
    assert proc.returncode == 0, show(proc)
    log = (prepared["root"] / "second.log").read_text()
    assert "resuming" in log and "after epoch 1" in log, log
    # no epoch was trained again: no progress or epoch lines, and the history (with each epoch's
    # wall time) is the stored one, byte for byte
    assert "ETA" not in log and "done in" not in log, log
    assert (classifier / "history.csv").read_text() == history_before


def test_train_lmac_td_on_the_pretrained_encoder_decoder(prepared, classifier):
    import torch

    from lmac.checkpoints import load_checkpoint

    root, config = prepared["root"], prepared["config"]
    proc = lmac("--config", config, "pretrain-lmac-td-ed", "--data", "data", "--out", "ed", "--device", "cpu", cwd=root)
    assert proc.returncode == 0, show(proc)
    proc = lmac(
        "--config",
        config,
        "train-lmac-td",
        "--data",
        "data",
        "--classifier",
        classifier / "model.pt",
        "--alpha",
        "0.75",
        "--encoder-decoder",
        "ed/model.pt",
        "--out",
        "td",
        "--device",
        "cpu",
        cwd=root,
    )
    assert proc.returncode == 0, show(proc)
    payload = load_checkpoint(root / "td" / "model.pt", "lmac_td")
    assert payload["meta"]["method"] == "lmac_td_a0.75" and payload["meta"]["epochs"] == 1
    with open(root / "td" / "history.csv", newline="") as fh:
        assert [row["epoch"] for row in csv.DictReader(fh)] == ["1"]
    # the pair it was given, frozen (lmac_td.freeze_encoder_decoder: true): its weights unchanged by the training
    pair = load_checkpoint(root / "ed" / "model.pt", "lmac_td_ed")["state_dict"]
    assert pair and all(torch.equal(value, payload["state_dict"][key]) for key, value in pair.items())


@pytest.mark.parametrize(
    "kind",
    [
        "text",
        "json",
        "random_bytes",
        "empty",
        "short_text",
    ],
)
def test_train_lmac_refuses_a_non_checkpoint(prepared, tmp_path, kind):
    bogus = tmp_path / "classifier.pt"
    if kind == "text":
        bogus.write_text((prepared["data"] / "manifest.csv").read_text())
    elif kind == "json":
        bogus.write_text('{"kind": "classifier"}\n')
    elif kind == "random_bytes":
        bogus.write_bytes(bytes(range(256)) * 16)
    elif kind == "empty":
        bogus.write_bytes(b"")
    elif kind == "short_text":
        bogus.write_text("hello world\n")
    proc = lmac(
        "--config",
        prepared["config"],
        "train-lmac",
        "--data",
        prepared["data"],
        "--classifier",
        bogus,
        "--out",
        tmp_path / "lmac",
        "--device",
        "cpu",
        cwd=tmp_path,
    )
    assert_one_line_error(proc, str(bogus))
    assert not (tmp_path / "lmac" / "model.pt").exists()


def test_train_lmac_refuses_an_explainer_as_classifier(prepared, classifier, tmp_path):
    root = prepared["root"]
    proc = lmac(
        "--config",
        prepared["config"],
        "train-lmac",
        "--data",
        "data",
        "--classifier",
        classifier / "model.pt",
        "--out",
        "lmac",
        "--device",
        "cpu",
        cwd=root,
    )
    assert proc.returncode == 0, show(proc)
    assert (root / "lmac" / "model.pt").is_file() and (root / "lmac" / "history.csv").is_file()
    proc = lmac(
        "--config",
        prepared["config"],
        "train-lmac",
        "--data",
        "data",
        "--classifier",
        root / "lmac" / "model.pt",
        "--out",
        tmp_path / "again",
        "--device",
        "cpu",
        cwd=root,
    )
    assert_one_line_error(proc, "'lmac' checkpoint", "expected 'classifier'")
