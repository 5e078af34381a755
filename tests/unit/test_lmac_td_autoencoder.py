"""LMAC-TD encoder/decoder pre-training: it learns to resynthesise, resumes, and the trainer loads it frozen."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from model_fixture import TINY_TD, tiny_classifier

from lmac.checkpoints import load_checkpoint
from lmac.data.noise import GeneratedNoise
from lmac.errors import LmacError
from lmac.explainers.lmac_td_autoencoder import KIND, AutoencoderJob, EncoderDecoder, settings
from lmac.explainers.lmac_td_presets import resolve_arch
from lmac.explainers.train_lmac_td import build_from_config
from lmac.jobs import Outputs

LENGTH = 8000

ED = {"pretrain": True, "epochs": 3, "steps_per_epoch": 40, "batch_size": 8, "crop_seconds": 0.05, "lr": 0.01}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("ed") / "prepared"
    root.mkdir()
    rng = np.random.default_rng(0)
    t = np.arange(LENGTH) / 16000
    # tones of random pitch in noise: audio a linear autoencoder has to learn, not copy trivially at init
    audio = np.stack(
        [np.sin(2 * np.pi * rng.uniform(200, 4000) * t) + 0.1 * rng.standard_normal(LENGTH) for _ in range(8)]
    ).astype(np.float32)
    np.save(root / "audio.npy", audio)
    pd.DataFrame(
        [
            {
                "index": i,
                "id": str(i),
                "filename": f"{i}.wav",
                "fold": 1 if i < 6 else 4,
                "split": "train" if i < 6 else "valid",
                "label": i % 2,
                "category": "ab"[i % 2],
                "duration_s": LENGTH / 16000,
            }
            for i in range(8)
        ]
    ).to_csv(root / "manifest.csv", index=False)
    (root / "classes.txt").write_text("a\nb\n")
    return root


def run(prepared, out, epochs=ED["epochs"], noise=None):
    cfg = {"preset": "nov2024", "scale": TINY_TD, "encoder_decoder": {**ED, "epochs": epochs}}
    AutoencoderJob(
        prepared_dir=str(prepared),
        outputs=Outputs.in_folder(out),
        cfg=cfg,
        seed=1,
        device="cpu",
        noise_cfg={"snr_db": 0.0},
        noise_source=noise,
    ).run()
    return pd.read_csv(out / "history.csv"), load_checkpoint(out / "model.pt", KIND)


def test_pretraining_learns_to_resynthesise_the_audio(prepared, tmp_path):
    torch.manual_seed(1)
    untrained = EncoderDecoder(resolve_arch("nov2024", TINY_TD))
    history, payload = run(prepared, tmp_path, noise=GeneratedNoise(0, 16000))
    # validation SI-SNR of D(E(x)) to x, clean and noisy, rises well above the untrained pair's
    assert {"valid_sisnr", "valid_sisnr_clean", "valid_sisnr_noisy"} <= set(history.columns)
    model = EncoderDecoder(resolve_arch("nov2024", TINY_TD))
    model.load_state_dict(payload["state_dict"])
    x = torch.from_numpy(np.load(prepared / "audio.npy")[6:])
    from lmac.explainers.lmac_td_loss import si_snr

    with torch.no_grad():
        before, after = si_snr(untrained(x), x).mean().item(), si_snr(model(x), x).mean().item()
    assert after > 10 and after > before + 10
    assert payload["meta"]["valid_sisnr"] == pytest.approx(history["valid_sisnr"].max())


def test_pretraining_resumes_to_the_uninterrupted_result(prepared, tmp_path):
    _, whole = run(prepared, tmp_path / "whole")
    run(prepared, tmp_path / "parts", epochs=1)
    _, resumed = run(prepared, tmp_path / "parts")  # same work folder: continues after epoch 1
    for key, value in whole["state_dict"].items():
        assert torch.equal(value, resumed["state_dict"][key]), key


def test_lmac_td_loads_the_pretrained_pair_frozen(prepared, tmp_path):
    _, payload = run(prepared, tmp_path, epochs=1)
    classifier = tiny_classifier(["a", "b"])
    cfg = {
        "preset": "nov2024",
        "scale": TINY_TD,
        "pretrained_encoder_decoder": str(tmp_path / "model.pt"),
        "freeze_encoder_decoder": True,
    }
    explainer = build_from_config(classifier, cfg, alpha=0.75)
    for name in ("encoder", "decoder"):
        for key, value in getattr(explainer, name).state_dict().items():
            assert torch.equal(value, payload["state_dict"][f"{name}.{key}"])
        assert not any(p.requires_grad for p in getattr(explainer, name).parameters())
    assert any(p.requires_grad for p in explainer.masker.parameters())


@pytest.mark.parametrize("key, value", [("epochs", 0), ("batch_size", 1.5), ("crop_seconds", 0), ("lr", -1)])
def test_bad_settings_are_one_line_errors_naming_the_key(key, value):
    with pytest.raises(LmacError, match=f"lmac_td.encoder_decoder.{key}"):
        settings({"encoder_decoder": {key: value}})
