"""LMAC-TD trainer: a tiny run that is killed and resumed, pretrained E/D, the pr2838 front end."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pandas as pd
import pytest
import torch
from model_fixture import TINY_TD, tiny_classifier

from lmac.checkpoints import load_checkpoint, load_torch_file
from lmac.classifier.model import load_classifier
from lmac.data.noise import GeneratedNoise
from lmac.errors import LmacError
from lmac.explainers.lmac_td import LmacTDExplainer
from lmac.explainers.train_lmac_td import LmacTDJob, build_from_config
from lmac.jobs import Outputs
from lmac.training import seed_everything

LENGTH = 8000  # 0.5 s: 44 STFT frames, enough for CNN14's 32
N_TRAIN, N_VALID = 6, 3
CFG = {
    "preset": "nov2024",
    "alphas": [0.75],
    "scale": TINY_TD,
    "loss": {"l_in": None, "l_out": None, "l1": None, "sisnr": None},
    "epochs": 1,
    "batch_size": 3,
    "lr": 1e-3,
    "weight_decay": 2e-6,
    "select": "best",
    "scheduler": {"enabled": True, "factor": 0.5, "patience": 1, "start_epoch": 0},
    "pretrained_encoder_decoder": None,
    "freeze_encoder_decoder": True,
    "noise": True,
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("td")
    prepared = root / "prepared"
    prepared.mkdir()
    rng = np.random.default_rng(0)
    n = N_TRAIN + N_VALID
    np.save(prepared / "audio.npy", (rng.standard_normal((n, LENGTH)) * 0.1).astype(np.float32))
    pd.DataFrame(
        [
            {
                "index": i,
                "id": str(i),
                "filename": f"{i}.wav",
                "fold": 1 if i < N_TRAIN else 4,
                "split": "train" if i < N_TRAIN else "valid",
                "label": i % 3,
                "category": "abc"[i % 3],
                "duration_s": LENGTH / 16000,
            }
            for i in range(n)
        ]
    ).to_csv(prepared / "manifest.csv", index=False)
    (prepared / "classes.txt").write_text("a\nb\nc\n")
    tiny_classifier().save(root / "classifier.pt")
    return root


class CountingNoise:
    """Generated noise that counts its clips and can fail after ``fail_after`` of them (a kill)."""

    def __init__(self, fail_after: int | None = None):
        self.inner, self.calls, self.fail_after = GeneratedNoise(0, 16000), 0, fail_after

    def sample(self, length: int, generator: torch.Generator) -> torch.Tensor:
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt("killed")
        self.calls += 1
        return self.inner.sample(length, generator)


def run(data, name: str, cfg: dict, noise=None, alpha: float = 0.75):
    out = data / name
    job = LmacTDJob.from_config(
        {"lmac_td": cfg, "seed": 3, "device": "cpu"},
        prepared_dir=data / "prepared",
        outputs=Outputs.in_folder(out),
        classifier_path=str(data / "classifier.pt"),
        alpha=alpha,
    )
    dataclasses.replace(job, noise_source=noise).run()
    return out


def test_killed_run_resumes_without_redoing_finished_epochs(data, caplog):
    cfg = {**CFG, "epochs": 2}
    per_epoch = N_TRAIN + N_VALID  # one noise clip per training and validation clip
    killed = CountingNoise(fail_after=per_epoch + 2)  # dies early in epoch 2
    with pytest.raises(KeyboardInterrupt):
        run(data, "resume", cfg, killed)
    saved = load_torch_file(data / "resume" / "work" / "last.pt")
    assert saved["epoch"] == 1 and not (data / "resume" / "model.pt").exists()

    resumed = CountingNoise()
    with caplog.at_level(logging.INFO, logger="lmac.train"):
        out = run(data, "resume", cfg, resumed)
    assert any("resuming" in r.getMessage() and "after epoch 1" in r.getMessage() for r in caplog.records)
    assert resumed.calls == per_epoch  # epoch 2 only
    history = pd.read_csv(out / "history.csv")
    assert history["epoch"].tolist() == [1, 2]
    assert history.iloc[0]["seconds"] == pytest.approx(saved["history"][0]["seconds"])  # epoch 1 not redone
    for column in (
        "valid_loss",
        "valid_ce_in",
        "valid_ce_out",
        "valid_l1",
        "valid_sisnr",
        "valid_fid_in",
        "train_ce_in",
        "train_mask_mean",
        "lr",
    ):
        assert column in history.columns and history[column].notna().all()

    # the uninterrupted run gives the same model: noise and shuffling depend on (seed, epoch, step)
    whole = run(data, "whole", cfg, CountingNoise())
    a, b = (load_checkpoint(p / "model.pt", "lmac_td")["state_dict"] for p in (out, whole))
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-6)


def test_more_epochs_continue_a_finished_run_and_the_model_explains(data, caplog):
    run(data, "grow", CFG, CountingNoise())
    more = CountingNoise()
    with caplog.at_level(logging.INFO, logger="lmac.train"):
        out = run(data, "grow", {**CFG, "epochs": 2}, more)
    assert more.calls == N_TRAIN + N_VALID
    assert len(pd.read_csv(out / "history.csv")) == 2
    payload = load_checkpoint(out / "model.pt", "lmac_td")
    assert payload["config"]["alpha"] == 0.75 and payload["meta"]["method"] == "lmac_td_a0.75"
    model = LmacTDExplainer.load(out / "model.pt", load_classifier(data / "classifier.pt"))
    wav = torch.from_numpy(np.load(data / "prepared" / "audio.npy")[:2].copy())
    exp = model.explain(wav)
    assert exp.waveform.shape == wav.shape and exp.mask.shape == exp.logspec.shape


def test_pretrained_encoder_decoder_stay_frozen_and_pr2838_trains(data):
    donor = run(data, "donor", {**CFG, "noise": False})
    cfg = {**CFG, "preset": "pr2838", "noise": False, "pretrained_encoder_decoder": str(donor / "model.pt")}
    out = run(data, "frozen", cfg, alpha=0.0)
    before = load_checkpoint(donor / "model.pt", "lmac_td")["state_dict"]
    after = load_checkpoint(out / "model.pt", "lmac_td")
    assert after["config"]["feature_n_fft"] == 2048 and after["config"]["preset"] == "pr2838"
    for key in ("encoder.conv1d.weight", "decoder.weight"):
        assert torch.equal(after["state_dict"][key], before[key])
    seed_everything(3)  # the trainer's initial weights, rebuilt
    initial = build_from_config(load_classifier(data / "classifier.pt"), cfg, 0.0).state_dict()
    assert torch.equal(initial["encoder.conv1d.weight"], before["encoder.conv1d.weight"])
    changed = [
        k
        for k in after["state_dict"]
        if k.startswith("masker.") and not torch.equal(after["state_dict"][k], initial[k])
    ]
    assert changed  # the masker did learn
    assert not any(k.startswith("upsampler.") for k in after["state_dict"])  # α = 0: no U at all


def test_noise_must_be_a_boolean(data):
    with pytest.raises(LmacError, match="lmac_td.noise"):
        run(data, "bad", {**CFG, "noise": {"enabled": True}})
