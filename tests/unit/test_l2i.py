"""L2I end to end on a tiny prepared dataset: NMF dictionary, ψ/θ training and resume, explanations."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from esc50_fixture import TINY_SR, make_tiny_prepared  # noqa: E402
from model_fixture import train_explainer

from lmac.checkpoints import load_checkpoint
from lmac.classifier.model import load_classifier
from lmac.cli import main as cli_main
from lmac.errors import LmacError
from lmac.explainers.l2i import L2IExplainer
from lmac.explainers.l2i_psi import Theta
from lmac.explainers.nmf import NmfJob, fit_nmf, load_dictionary
from lmac.explainers.registry import build_explainer, is_learned, load_explainer
from lmac.explainers.train_l2i import L2IJob, l2i_loss, loss_weights
from lmac.frontend import FrontEndConfig
from lmac.jobs import Outputs

SR, CLASSES = TINY_SR, ["a", "b", "c"]
FRONTEND = {"n_fft": 1024, "hop_ms": 11.6099, "win_ms": 23.2199, "n_mels": 80}
L2I_CFG = {
    "epochs": 2,
    "batch_size": 3,
    "lr": 1e-3,
    "weight_decay": 0.0,
    "select": "best",
    "relevance_th": 0.2,
    "loss": {"alpha": 10.0, "beta": 0.8, "classifier_temp": 1.0},
    "noise": False,
    "scheduler": {"enabled": True, "factor": 0.5, "patience": 0, "start_epoch": 1},
}


def config(l2i=L2I_CFG) -> dict:
    return {
        "nmf": {"components": 6, "iterations": 30},
        "l2i": l2i,
        "frontend": FRONTEND,
        "noise": {"source": "generated", "snr_db": 0.0, "peak": "abs"},
        "seed": 1234,
        "device": "cpu",
    }


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The tiny prepared dataset (9 train, 3 valid clips of 1 s), its random classifier, and a dictionary."""
    root = Path(make_tiny_prepared(tmp_path_factory.mktemp("l2i"))["root"])
    NmfJob.from_config(config(), prepared_dir=root / "prepared", outputs=Outputs.in_folder(root / "nmf")).run()
    return root


def train(setup, name: str, l2i=L2I_CFG):
    return train_explainer(L2IJob, config(l2i), setup, name, dictionary_path=str(setup / "nmf" / "model.pt"))


def test_multiplicative_updates_fit_a_low_rank_nonnegative_matrix():
    g = torch.Generator().manual_seed(0)
    frames = torch.rand(20, 3, generator=g) @ torch.rand(3, 400, generator=g)
    w, history = fit_nmf(frames, 3, 300, seed=1)
    mses = [h["mse"] for h in history]
    assert all(b <= a * (1 + 1e-4) for a, b in zip(mses, mses[1:]))  # monotone, as Lee and Seung's updates
    assert mses[-1] < 0.01 * mses[0]
    assert (w >= 0).all() and torch.allclose(w.amax(0), torch.ones(3))
    with pytest.raises(LmacError, match="components"):
        fit_nmf(frames, 0, 10, seed=1)


def test_nmf_job_writes_a_dictionary_on_the_classifier_grid(setup):
    dictionary = load_dictionary(setup / "nmf" / "model.pt", FrontEndConfig.from_dict(FRONTEND))
    assert dictionary.shape == (513, 6) and (dictionary >= 0).all()
    history = pd.read_csv(setup / "nmf" / "history.csv")
    assert len(history) == 30 and history["mse"].iloc[-1] < history["mse"].iloc[0]
    with pytest.raises(LmacError, match="another STFT grid"):
        load_dictionary(setup / "nmf" / "model.pt", FrontEndConfig.from_dict({**FRONTEND, "n_fft": 512}))


def test_loss_is_the_reference_objective():
    g = torch.Generator().manual_seed(0)
    recon, spec, acts = torch.rand(2, 5, 4, generator=g), torch.rand(2, 5, 4, generator=g), torch.rand(2, 3, 5)
    logits, theta_logits = torch.randn(2, 7, generator=g), torch.randn(2, 7, generator=g)
    weights = loss_weights({"alpha": 2.0, "beta": 0.5, "classifier_temp": 2.0})
    loss, parts = l2i_loss(recon, spec, acts, logits, theta_logits, weights)
    expected = (
        2.0 * ((recon - spec) ** 2).mean()
        + 0.5 * acts.abs().mean()
        + ((logits / 2.0).softmax(-1) * -torch.log(theta_logits.softmax(-1))).mean()
    )
    torch.testing.assert_close(loss, expected)
    assert set(parts) == {"nmf_mse", "l1", "fidelity"}
    with pytest.raises(LmacError, match="l2i.loss.gamma"):
        loss_weights({"gamma": 1.0})


def test_theta_learns_from_class_specific_activations():
    """θ, trained on the fidelity term alone, reads the class from activations where it shows (one component
    per class, active in a 10-frame window at a random position over a common offset): θ's code can learn what
    the classifier decides once ψ's activations carry it (docs/reproducibility_notes.md#l2i)."""
    gen = torch.Generator().manual_seed(0)
    n, k, t, c = 60, 6, 40, 3
    labels = torch.arange(n) % c
    h = 0.5 + 0.05 * torch.rand(n, k, t, generator=gen)
    start = torch.randint(0, t - 10, (n,), generator=gen)
    for i in range(n):
        h[i, labels[i], start[i] : start[i] + 10] += 1.0
    logits = 5.0 * torch.nn.functional.one_hot(labels, c).float()
    torch.manual_seed(0)
    theta = Theta(k, t, c)
    opt = torch.optim.Adam(theta.parameters(), lr=1e-2)
    unused = torch.zeros(1)
    weights = loss_weights({"alpha": 0.0, "beta": 0.0})

    def agreement() -> float:
        return float((theta(h).argmax(-1) == labels).float().mean())

    assert agreement() < 0.9
    for _ in range(100):
        loss, parts = l2i_loss(unused, unused, unused, logits, theta(h), weights)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert agreement() == 1.0
    assert parts["fidelity"] < 0.5 * math.log(c) / c  # well below chance, ln(C)/C


def test_training_writes_a_resumable_run_and_a_loadable_explainer(setup):
    out = train(setup, "run")
    history = pd.read_csv(out / "history.csv")
    assert list(history["epoch"]) == [1, 2]
    assert {"valid_loss", "valid_nmf_mse", "valid_theta_fid", "train_nmf_mse"} <= set(history.columns)
    payload = load_checkpoint(out / "model.pt")
    assert payload["kind"] == "l2i" and payload["meta"]["method"] == "l2i"
    before = (out / "model.pt").read_bytes()
    train(setup, "run")  # finished work folder: resumes at the end, same weights
    assert torch.equal(
        load_checkpoint(out / "model.pt")["state_dict"]["theta.hard_att.weight"],
        torch.load(io.BytesIO(before), weights_only=True)["state_dict"]["theta.hard_att.weight"],
    )
    clf = load_classifier(setup / "classifier.pt")
    assert is_learned("l2i")
    explainer = build_explainer("l2i", clf, str(out / "model.pt"))
    assert isinstance(explainer, L2IExplainer) and explainer.theta.n_frames == clf.frontend.cfg.n_frames(SR)
    with pytest.raises(LmacError, match="is a 'l2i' checkpoint, method 'lmac' needs an 'lmac' one"):
        load_explainer(out / "model.pt", clf, method="lmac")


@pytest.fixture(scope="module")
def explainer(setup):
    clf = load_classifier(setup / "classifier.pt")
    return load_explainer(train(setup, "explained") / "model.pt", clf, method="l2i"), clf


def test_explanation_is_the_relevant_components_share_of_the_reconstruction(explainer):
    model, clf = explainer
    wav = torch.randn(4, SR) * 0.3
    exp = model.explain(wav)
    assert exp.mask.shape == exp.logspec.shape == (4, clf.frontend.cfg.n_frames(SR), 513)
    assert (exp.mask >= 0).all() and (exp.mask <= 1).all()
    torch.testing.assert_close(exp.masked_in + exp.masked_out, exp.logspec)
    assert exp.waveform.shape == wav.shape
    torch.testing.assert_close(exp.target, clf(wav)[0].argmax(-1))
    # by hand: components over the threshold, their share of W·H
    _, _, h = model.analyse(wav)
    r = model.theta.relevance(h, exp.target)
    keep = (r > model.relevance_th).float()
    w = model.dictionary
    by_hand = ((w @ (h * keep[:, :, None])) / (w @ h + 1e-10)).transpose(1, 2).clamp(0, 1)
    torch.testing.assert_close(exp.mask, by_hand)


def test_a_higher_relevance_threshold_keeps_fewer_components(explainer):
    model, _ = explainer
    wav = torch.randn(3, SR) * 0.3
    low = model.explain(wav).mask
    model.relevance_th = 0.9
    try:
        high = model.explain(wav).mask
    finally:
        model.relevance_th = 0.2
    assert (high <= low + 1e-6).all() and high.sum() < low.sum()


def test_explanations_depend_on_the_target_class(explainer):
    model, _ = explainer
    assert model.class_conditional
    wav = torch.randn(2, SR) * 0.3
    masks = [model.explain(wav, torch.full((2,), c)).mask for c in range(len(CLASSES))]
    assert any(not torch.equal(masks[0], m) for m in masks[1:])


def test_explains_clips_of_another_length(explainer):
    model, clf = explainer
    exp = model.explain(torch.randn(1, int(1.7 * SR)) * 0.3)
    assert exp.mask.shape == (1, clf.frontend.cfg.n_frames(int(1.7 * SR)), 513)


def test_cli_commands_train_nmf_and_l2i(setup, tmp_path):
    cfg_path = tmp_path / "cfg.yaml"
    cfg = yaml.safe_load(open("config/config.yaml"))
    cfg["nmf"] = {"components": 4, "iterations": 5}
    cfg["l2i"] = {**cfg["l2i"], "epochs": 1, "batch_size": 3}
    cfg["frontend"] = FRONTEND
    cfg_path.write_text(yaml.safe_dump(cfg))
    data = setup / "prepared"
    assert cli_main(["--config", str(cfg_path), "train-nmf", "--data", str(data), "--out", str(tmp_path / "nmf")]) in (
        0,
        None,
    )
    assert (tmp_path / "nmf" / "model.pt").is_file()
    code = cli_main(
        [
            "--config",
            str(cfg_path),
            "train-l2i",
            "--data",
            str(data),
            "--classifier",
            str(setup / "classifier.pt"),
            "--dictionary",
            str(tmp_path / "nmf" / "model.pt"),
            "--out",
            str(tmp_path / "l2i"),
            "--device",
            "cpu",
        ]
    )
    assert code in (0, None)
    assert load_checkpoint(tmp_path / "l2i" / "model.pt")["kind"] == "l2i"


def test_lmac_explain_takes_an_l2i_checkpoint(explainer, setup, tmp_path):
    import json

    import soundfile as sf

    wav = tmp_path / "clip.wav"
    sf.write(wav, (0.3 * torch.randn(SR)).numpy(), SR)
    out = tmp_path / "out"
    code = cli_main(
        [
            "explain",
            str(wav),
            "--out",
            str(out),
            "--classifier",
            str(setup / "classifier.pt"),
            "--explainer",
            str(setup / "explained" / "model.pt"),
            "--device",
            "cpu",
        ]
    )
    assert code in (0, None)
    record = json.loads((out / "clip.json").read_text())
    assert record["explainer"]["method"] == "l2i" and record["explainer"]["kind"] == "l2i"
    assert (out / "clip.explanation.wav").is_file()
