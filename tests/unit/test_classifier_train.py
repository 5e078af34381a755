"""Classifier training: the recipe's cyclic learning rate (SpeechBrain as the oracle) and WHAM! as its noise."""

import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from esc50_fixture import TINY_SR

from lmac.classifier.train import ClassifierJob, cyclic_scheduler
from lmac.errors import LmacError
from lmac.frontend import FrontEndConfig
from lmac.jobs import Outputs

CYCLIC = {"type": "cyclic", "base_lr": 1e-6, "max_lr": 1e-3, "step_size": 4}


def test_cyclic_rate_is_speechbrains_cyclic_lr_scheduler():
    from speechbrain.nnet.schedulers import CyclicLRScheduler

    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=2e-4)
    ours = cyclic_scheduler(opt, CYCLIC)
    reference = CyclicLRScheduler(base_lr=1e-6, max_lr=1e-3, step_size=4)
    rates = []
    for _ in range(20):  # two and a half cycles
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        ours.step()
    # our batch k (from 0) trains at clr(k); SpeechBrain's batch k at clr(k + 1): the same curve, one batch later
    assert rates == pytest.approx([reference.clr(k) for k in range(20)], rel=1e-9, abs=1e-12)
    assert max(rates) == pytest.approx(1e-3) and rates[0] == pytest.approx(1e-6)


def test_constant_rate_has_no_scheduler():
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=2e-4)
    assert cyclic_scheduler(opt, None) is None and cyclic_scheduler(opt, {"type": "constant"}) is None
    assert opt.param_groups[0]["lr"] == 2e-4


def train(tmp_path, tiny_prepared, name, **cfg_extra):
    cfg = {"width": 0.0625, "epochs": 2, "batch_size": 2, "lr": 1e-3, "weight_decay": 0.0, **cfg_extra}
    noise, wham_dir = cfg.pop("noise_cfg", None), cfg.pop("wham_dir", None)
    config = {"classifier": cfg, "frontend": FrontEndConfig(sample_rate=TINY_SR).to_dict(), "noise": noise, "seed": 0}
    out = tmp_path / name
    ClassifierJob.from_config(
        config, prepared_dir=tiny_prepared["prepared"], outputs=Outputs.in_folder(out), device="cpu", wham_dir=wham_dir
    ).run()
    return pd.read_csv(out / "history.csv"), json.loads((out / "metrics.json").read_text())


def clr(k: int, base=1e-6, peak=1e-3, size=4) -> float:
    cycle = np.floor(1 + k / (2 * size))
    return base + (peak - base) * max(0.0, 1 - abs(k / size - 2 * cycle + 1))


def test_the_schedule_counts_validation_batches_only_when_asked(tmp_path, tiny_prepared):
    # 9 training clips -> 5 batches of 2, 3 validation clips -> 2 batches per epoch
    plain, _ = train(tmp_path, tiny_prepared, "plain", scheduler=CYCLIC)
    recipe, _ = train(tmp_path, tiny_prepared, "recipe", scheduler={**CYCLIC, "count_valid_batches": True})
    assert plain["lr"].tolist() == pytest.approx([clr(5), clr(10)])
    assert recipe["lr"].tolist() == pytest.approx([clr(7), clr(14)])


def test_classifier_noise_comes_from_the_wham_folder(tmp_path, tiny_prepared, caplog):
    tr = tmp_path / "wham" / "tr"
    tr.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(3):  # 8 kHz files: resampled to the classifier's rate on load
        sf.write(tr / f"noise{i}.wav", rng.normal(size=8000).astype(np.float32), 8000)
    clean, _ = train(tmp_path, tiny_prepared, "clean")
    caplog.set_level("INFO", logger="lmac.classifier")
    noisy, metrics = train(
        tmp_path,
        tiny_prepared,
        "wham",
        noise={"enabled": True, "snr_db": 0.0},
        noise_cfg={"source": "wham", "peak": "signed"},
        wham_dir=str(tmp_path / "wham"),
    )
    assert f"training noise AudioFolder('{tr}', {TINY_SR}, files=3" in caplog.text
    assert not np.allclose(clean["train_loss"], noisy["train_loss"])  # the noise reached the training batches
    assert 0.0 <= metrics["test_accuracy"] <= 1.0


def test_wham_noise_without_its_folder_is_a_clear_error(tmp_path, tiny_prepared):
    with pytest.raises(LmacError, match="noise.source: 'wham' needs the extracted WHAM! folder"):
        train(tmp_path, tiny_prepared, "nowham", noise={"enabled": True, "snr_db": 0.0}, noise_cfg={"source": "wham"})
