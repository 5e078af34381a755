"""classifier.noise.eval_stages: validation and test batches clean (lmac) or noisy (the paper-era recipe)."""

import json

import pandas as pd
import pytest
from esc50_fixture import TINY_SR, make_tiny_prepared  # noqa: E402

from lmac.classifier.train import ClassifierJob
from lmac.frontend import FrontEndConfig
from lmac.jobs import Outputs


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_prepared(tmp_path_factory.mktemp("tiny"))


def train(tmp_path, tiny, name, eval_stages: bool):
    cfg = {"width": 0.0625, "epochs": 2, "batch_size": 2, "lr": 1e-3, "weight_decay": 0.0}
    cfg["noise"] = {"enabled": True, "snr_db": 0.0, "eval_stages": eval_stages}
    config = {
        "classifier": cfg,
        "frontend": FrontEndConfig(sample_rate=TINY_SR).to_dict(),
        "noise": {"source": "generated", "peak": "abs"},
        "seed": 0,
    }
    out = tmp_path / name
    ClassifierJob.from_config(config, prepared_dir=tiny["prepared"], outputs=Outputs.in_folder(out), device="cpu").run()
    return pd.read_csv(out / "history.csv"), json.loads((out / "metrics.json").read_text())


def test_noise_reaches_validation_and_test_only_when_asked(tmp_path, tiny):
    clean, clean_metrics = train(tmp_path, tiny, "clean", eval_stages=False)
    noisy, noisy_metrics = train(tmp_path, tiny, "noisy", eval_stages=True)
    again, again_metrics = train(tmp_path, tiny, "again", eval_stages=True)
    # the same training either way; what differs is what validation and test hear
    assert noisy["train_loss"].tolist() == pytest.approx(clean["train_loss"].tolist())
    assert noisy["valid_loss"].tolist() != pytest.approx(clean["valid_loss"].tolist())
    assert noisy_metrics["test_loss"] != pytest.approx(clean_metrics["test_loss"])
    # seeded per (stage, batch): a second run hears the same noise
    assert again["valid_loss"].tolist() == pytest.approx(noisy["valid_loss"].tolist())
    assert again_metrics["test_loss"] == pytest.approx(noisy_metrics["test_loss"])
