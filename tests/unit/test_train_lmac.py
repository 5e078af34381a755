"""L-MAC training end to end on a tiny prepared dataset: trains, resumes, fine-tunes with guidance."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from model_fixture import tiny_classifier, train_explainer

import lmac.explainers.train_lmac as train_module
from lmac.checkpoints import load_checkpoint
from lmac.classifier.model import load_classifier
from lmac.cli import main as cli_main
from lmac.errors import LmacError
from lmac.explainers.lmac import LmacExplainer
from lmac.explainers.train_lmac import LmacFTJob, LmacJob, finetune_config
from lmac.explainers.trainer import DelayedPlateau
from lmac.jobs import Outputs

SR, SECONDS = 16000, 1.0
CFG = {
    "epochs": 2,
    "batch_size": 3,
    "lr": 1e-3,
    "weight_decay": 0.0,
    "mask_domain": "log1p",
    "frames": "pad",
    "select": "last",
    "loss": {"preset": "recipe", "reduction": "mean"},
    "noise": True,
    "scheduler": {"enabled": True, "factor": 0.5, "patience": 0, "start_epoch": 1},
}
NOISE = {"source": "generated", "snr_db": 0.0, "peak": "abs"}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A prepared dataset (6 train, 3 valid clips of 1 s: tones + noise) and a random tiny classifier."""
    root = tmp_path_factory.mktemp("lmac_train")
    data = root / "prepared"
    data.mkdir()
    g = np.random.default_rng(0)
    n, length = 9, int(SR * SECONDS)
    t = np.arange(length) / SR
    audio = np.stack(
        [
            0.5 * np.sin(2 * np.pi * (300 + 200 * (i % 3)) * t) * (t > 0.3) + 0.05 * g.standard_normal(length)
            for i in range(n)
        ]
    ).astype(np.float32)
    np.save(data / "audio.npy", audio)
    splits = ["train"] * 6 + ["valid"] * 3
    pd.DataFrame(
        {
            "index": range(n),
            "id": [f"c{i}" for i in range(n)],
            "filename": [f"c{i}.wav" for i in range(n)],
            "fold": [1] * 6 + [4] * 3,
            "split": splits,
            "label": [i % 3 for i in range(n)],
            "category": [f"k{i % 3}" for i in range(n)],
            "duration_s": SECONDS,
        }
    ).to_csv(data / "manifest.csv", index=False)
    (data / "classes.txt").write_text("k0\nk1\nk2\n")
    tiny_classifier(["k0", "k1", "k2"]).save(root / "classifier.pt")
    return root


def config(cfg=CFG, ft=None) -> dict:
    return {"lmac": cfg, "lmac_ft": ft, "noise": NOISE, "seed": 1234, "device": "cpu"}


def run(setup, name, cfg=CFG):
    return train_explainer(LmacJob, config(cfg), setup, name)


def run_ft(setup, out, init, cfg=CFG, ft=None):
    LmacFTJob.from_config(
        config(cfg, ft),
        prepared_dir=setup / "prepared",
        outputs=Outputs.in_folder(out),
        classifier_path=str(setup / "classifier.pt"),
        init=str(init),
    ).run()


@pytest.fixture(scope="module")
def trained(setup):
    return run(setup, "full")


def test_training_writes_a_loadable_explainer_and_history(setup, trained):
    history = pd.read_csv(trained / "history.csv")
    assert history["epoch"].tolist() == [1, 2]
    for column in ("valid_loss", "valid_fid_in", "valid_mask_mean", "train_mask_mean", "lr"):
        assert np.isfinite(history[column]).all(), column
    assert "valid_in_masks" not in history  # no guidance in plain L-MAC
    # scheduler on with patience 0, watching from epoch 1: the lr never rises and halves on a plateau
    assert (np.diff(history["lr"]) <= 0).all()
    payload = load_checkpoint(trained / "model.pt", "lmac")
    assert payload["meta"]["method"] == "lmac" and payload["meta"]["finetuned"] is False
    assert payload["meta"]["loss"]["reduction"] == "mean" and payload["meta"]["noise"] == NOISE
    explainer = LmacExplainer.load(trained / "model.pt", load_classifier(setup / "classifier.pt"))
    wav = torch.from_numpy(np.load(setup / "prepared" / "audio.npy")[:2])
    exp = explainer.explain(wav)
    assert exp.mask.shape == exp.logspec.shape and exp.waveform.shape == wav.shape


def test_interrupted_run_resumes_to_the_same_model(setup, trained, monkeypatch):
    calls = {"n": 0}
    real_loss = train_module.lmac_loss

    def dies_in_epoch_two(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 4:  # epoch 1 = 2 train + 1 valid batches; die in epoch 2's second step
            raise KeyboardInterrupt
        return real_loss(*args, **kwargs)

    monkeypatch.setattr(train_module, "lmac_loss", dies_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        run(setup, "resumed")
    assert not (setup / "resumed" / "model.pt").exists()
    assert (setup / "resumed" / "work" / "last.pt").exists()
    monkeypatch.setattr(train_module, "lmac_loss", real_loss)
    resumed = run(setup, "resumed")
    a = load_checkpoint(trained / "model.pt")["state_dict"]
    b = load_checkpoint(resumed / "model.pt")["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)  # same noise, order and RNG: the same decoder
    pd.testing.assert_frame_equal(
        pd.read_csv(trained / "history.csv").drop(columns="seconds"),
        pd.read_csv(resumed / "history.csv").drop(columns="seconds"),
    )


def test_finetuning_starts_from_the_checkpoint_and_logs_in_masks(setup, trained):
    out = setup / "ft"
    ft = {"epochs": 1, "lr": 1e-4, "crosscor_th": -1.0}  # threshold -1: every sample is guided
    run_ft(setup, out, trained / "model.pt", ft=ft)
    history = pd.read_csv(out / "history.csv")
    assert history["epoch"].tolist() == [1] and history["lr"].tolist() == [1e-4]
    assert history["valid_in_masks"].tolist() == [1.0] and history["train_in_masks"].tolist() == [1.0]
    assert (history["valid_l1"] == 0).all() and (history["valid_guidance"] > 0).all()  # guided: exempt from L1
    payload = load_checkpoint(out / "model.pt", "lmac")
    meta = payload["meta"]
    assert meta["method"] == "lmac_ft" and meta["finetuned"] is True
    assert meta["guidance"] == {"g_w": 4.0, "crosscor_th": -1.0, "bin_th": 0.35, "crosscor": "dotp"}
    assert Path(meta["init"]) == trained / "model.pt"
    start = load_checkpoint(trained / "model.pt")["state_dict"]
    assert any(not torch.equal(start[k], v) for k, v in payload["state_dict"].items())  # it did train
    registry = pytest.importorskip("lmac.explainers.lmac_td")  # registry needs every explainer class
    del registry
    from lmac.explainers.registry import load_explainer

    assert isinstance(load_explainer(out / "model.pt", load_classifier(setup / "classifier.pt")), LmacExplainer)


def test_guidance_needs_noise_and_a_checkpoint(setup, tmp_path, capsys):
    with pytest.raises(LmacError, match="needs noisy inputs"):
        run_ft(setup, tmp_path, setup / "full" / "model.pt", {**CFG, "noise": False}, {})
    with pytest.raises(LmacError, match="lmac.noise"):
        run(setup, "old_noise_format", {**CFG, "noise": {"enabled": True}})
    tiny = Path(__file__).resolve().parents[1] / "workflow" / "tiny.yaml"
    with pytest.raises(SystemExit) as exit_:
        cli_main(
            [
                "--config",
                str(tiny),
                "train-lmac-ft",
                "--data",
                str(setup / "prepared"),
                "--classifier",
                str(setup / "classifier.pt"),
                "--init",
                str(tmp_path / "missing.pt"),
                "--out",
                str(tmp_path / "o"),
            ]
        )
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1 and "missing.pt: trained L-MAC checkpoint not found" in err[0]
    assert not (tmp_path / "o").exists()


def test_finetune_config_inherits_from_lmac():
    cfg, guidance = finetune_config(CFG, {"epochs": 5, "g_w": 1.0, "scheduler": {"enabled": False}})
    assert cfg["epochs"] == 5 and cfg["lr"] == CFG["lr"] and cfg["loss"] == CFG["loss"]
    assert cfg["scheduler"] == {**CFG["scheduler"], "enabled": False}
    assert guidance.g_w == 1.0 and guidance.crosscor_th == 0.6
    with pytest.raises(LmacError, match="lmac_ft.loss: unknown key"):
        finetune_config(CFG, {"loss": {}})


def test_delayed_plateau_waits_before_halving():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = DelayedPlateau(opt, start_epoch=3, factor=0.5, patience=0)
    for score in (5.0, 6.0, 7.0):  # worsening, but within the first 3 epochs: no change
        sched.step(score)
    assert opt.param_groups[0]["lr"] == 1.0
    sched.step(8.0)  # worse than the anchor (7.0) after the delay: halve
    assert opt.param_groups[0]["lr"] == 0.5
    state = json.loads(json.dumps({k: v for k, v in sched.state_dict().items() if isinstance(v, (int, float))}))
    assert state["start_epoch"] == 3
