"""Train L2I's ψ and θ on a frozen classifier and a fixed NMF dictionary (the ``nmf`` rule's).

Objective on a batch, as the reference: α·MSE(W·H, log1p|X|) + β·mean|H| +
mean_{b,c}(softmax(f(x)/T)_c · −log θ(H)_c), with α = 10, β = 0.8 and temperature T = 1
(``l2i.loss``): H must rebuild the input from the dictionary, sparsely, and carry what the
classifier decides. Only ψ and θ learn. The reference trains 200 epochs at batch 2, Adam lr 1e-4,
halving the rate on a plateau from epoch 50, on clean inputs; checkpoint selection here is by
validation loss (``select: best``) or the last epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..data.download import sha256_file
from ..errors import LmacError
from .l2i import L2IExplainer
from .nmf import load_dictionary
from .trainer import ExplainerJob, ExplainerTrainer

LOSS_DEFAULTS = {"alpha": 10.0, "beta": 0.8, "classifier_temp": 1.0}


def loss_weights(cfg: dict | None) -> dict:
    cfg = cfg or {}
    unknown = sorted(set(cfg) - set(LOSS_DEFAULTS))
    if unknown:
        raise LmacError(f"l2i.loss.{unknown[0]}: unknown key (alpha, beta, classifier_temp)")
    weights = {**LOSS_DEFAULTS, **{k: float(v) for k, v in cfg.items() if v is not None}}
    if weights["classifier_temp"] <= 0:
        raise LmacError(f"l2i.loss.classifier_temp: {weights['classifier_temp']} must be positive")
    return weights


def l2i_loss(
    reconstruction: torch.Tensor,
    logspec: torch.Tensor,
    activations: torch.Tensor,
    logits: torch.Tensor,
    theta_logits: torch.Tensor,
    weights: dict,
) -> tuple[torch.Tensor, dict]:
    """The L2I objective (module docstring) and its parts."""
    mse = ((reconstruction - logspec) ** 2).mean()
    sparsity = activations.abs().mean()
    teacher = F.softmax(logits / weights["classifier_temp"], dim=-1)
    fidelity = (teacher * -F.log_softmax(theta_logits, dim=-1)).mean()
    loss = weights["alpha"] * mse + weights["beta"] * sparsity + fidelity
    return loss, {"nmf_mse": mse.item(), "l1": sparsity.item(), "fidelity": fidelity.item()}


class L2ITrainer(ExplainerTrainer):
    TRAIN_KEYS = ("train_nmf_mse", "train_theta_fid")
    FIDELITY_KEY = "valid_theta_fid"  # θ agreeing with the classifier (the reference watches its top-3 version)

    def check(self) -> None:
        if not Path(self.job.dictionary_path).is_file():
            raise LmacError(f"{self.job.dictionary_path}: NMF dictionary not found (learn it first: lmac train-nmf)")
        self.weights = loss_weights(self.job.cfg.get("loss"))

    def build(self) -> L2IExplainer:
        clf = self.classifier
        dictionary = load_dictionary(self.job.dictionary_path, clf.frontend.cfg)
        n_frames = clf.frontend.cfg.n_frames(self.train_data.audio.shape[1])
        return L2IExplainer(clf, dictionary, n_frames, self.job.cfg.get("relevance_th", 0.2)).to(self.dev)

    def summary(self, params: list[torch.nn.Parameter]) -> str:
        return (
            f"L2I ψ and θ: {sum(p.numel() for p in params) / 1e6:.2f} M parameters, "
            f"{self.explainer.dictionary.shape[1]} NMF components, loss {self.weights}"
        )

    def loss(self, clean: torch.Tensor, wav: torch.Tensor) -> tuple[torch.Tensor, dict]:
        explainer = self.explainer
        logspec, logits, activations = explainer.analyse(wav)
        theta_logits = explainer.theta(activations)
        recon = explainer.reconstruct(activations)
        loss, parts = l2i_loss(recon, logspec, activations, logits, theta_logits, self.weights)
        parts["theta_fid"] = (theta_logits.argmax(-1) == logits.argmax(-1)).float().mean().item()
        return loss, parts

    def own_settings(self) -> dict:
        return {
            "dictionary_sha256": sha256_file(self.job.dictionary_path),
            "noise": self.job.noise_cfg if self.noisy else None,
        }

    def meta(self, history: list[dict]) -> dict:
        return {
            "seed": self.job.seed,
            "method": "l2i",
            "loss": self.weights,
            "dictionary_sha256": sha256_file(self.job.dictionary_path),
            "noise": self.job.noise_cfg if self.noisy else None,
        }


@dataclass(frozen=True, kw_only=True)
class L2IJob(ExplainerJob):
    """Train L2I (config section ``l2i``) on the classifier ``classifier_path`` and the NMF dictionary
    ``dictionary_path``."""

    SECTION = "l2i"
    TRAINER = L2ITrainer
    dictionary_path: str

    @classmethod
    def rule_inputs(cls, snakemake) -> dict:
        return {**super().rule_inputs(snakemake), "dictionary_path": snakemake.input.dictionary}
