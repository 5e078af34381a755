"""L2I's NMF dictionary: non-negative spectral components of the training fold's log1p|STFT| frames.

The dictionary W [F, K] and activations H [K, N] minimise ‖V − W·H‖² over every frame V [F, N] of
the training split's clean clips, on the classifier's own STFT grid (the ``frontend`` section), so
one dictionary serves every seed of the L2I training. The reference learns W by amortised NMF (a
convolutional encoder predicting H, trained with Adam alongside W); this module minimises the same
objective directly with Lee and Seung's multiplicative updates, which need no learning rate and
converge monotonically. Columns of W are scaled to unit maximum after each update (H takes the
scale), so components are comparable and the activations ψ learns stay in a fixed range.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd
import torch

from ..checkpoints import load_checkpoint, save_checkpoint, stored_config
from ..data.batches import split
from ..data.prepare import load_prepared
from ..errors import LmacError
from ..frontend import FrontEnd, FrontEndConfig
from ..io import write_csv
from ..jobs import TrainingJob
from ..training import pick_device, seed_everything

log = logging.getLogger("lmac.explainers")

KIND = "nmf_dictionary"
EPS = 1e-8


def training_frames(frontend: FrontEnd, clips, batch_size: int, device: torch.device) -> torch.Tensor:
    """log1p|STFT| of every clip, as frames [F, N]."""
    frames = []
    with torch.no_grad():
        for wav, _, _ in clips.batches(batch_size):
            frames.append(frontend.log_spectrogram(wav.to(device)).reshape(-1, frontend.cfg.n_freqs))
    return torch.cat(frames).T.contiguous()


def fit_nmf(frames: torch.Tensor, n_components: int, iterations: int, seed: int) -> tuple[torch.Tensor, list[dict]]:
    """Dictionary W [F, K] of ``frames`` [F, N] (non-negative), and the per-iteration reconstruction MSE."""
    if n_components < 1 or iterations < 1:
        raise LmacError(f"nmf: components ({n_components}) and iterations ({iterations}) must be at least 1")
    gen = torch.Generator().manual_seed(seed)
    n_freqs, n_frames = frames.shape
    scale = float(frames.mean().clamp_min(EPS) / n_components) ** 0.5
    w = (torch.rand(n_freqs, n_components, generator=gen) * scale).to(frames)
    h = (torch.rand(n_components, n_frames, generator=gen) * scale).to(frames)
    history = []
    for it in range(1, iterations + 1):
        h *= (w.T @ frames) / (w.T @ w @ h + EPS)
        w *= (frames @ h.T) / (w @ (h @ h.T) + EPS)
        peak = w.amax(0).clamp_min(EPS)  # W·H unchanged
        w, h = w / peak, h * peak[:, None]
        history.append({"iteration": it, "mse": float(((w @ h - frames) ** 2).mean())})
    return w.cpu(), history


def save_dictionary(path, dictionary: torch.Tensor, frontend: FrontEndConfig, meta: dict) -> None:
    config = {"n_components": dictionary.shape[1], "frontend": frontend.to_dict()}
    save_checkpoint(path, KIND, config, {"dictionary": dictionary}, meta)


def load_dictionary(path, frontend: FrontEndConfig) -> torch.Tensor:
    """The dictionary in ``path``, checked to be on ``frontend``'s STFT grid."""
    payload = load_checkpoint(path, KIND)
    cfg = stored_config(path, payload, ("n_components", "frontend"), "an NMF dictionary")
    theirs = FrontEndConfig.from_dict(cfg["frontend"])
    if (theirs.sample_rate, theirs.n_fft, theirs.hop_length, theirs.win_length) != (
        frontend.sample_rate,
        frontend.n_fft,
        frontend.hop_length,
        frontend.win_length,
    ):
        raise LmacError(
            f"{path}: dictionary learned on another STFT grid than the classifier's ({theirs} vs {frontend})"
        )
    dictionary = (payload.get("state_dict") or {}).get("dictionary")
    if not isinstance(dictionary, torch.Tensor) or dictionary.shape != (frontend.n_freqs, cfg["n_components"]):
        raise LmacError(f"{path}: no [{frontend.n_freqs}, {cfg['n_components']}] 'dictionary' tensor")
    return dictionary.float()


@dataclass(frozen=True, kw_only=True)
class NmfJob(TrainingJob):
    """Learn the NMF dictionary (config section ``nmf``) on the training split, on the ``frontend`` grid."""

    SECTION = "nmf"
    frontend: dict

    @classmethod
    def own_fields(cls, config: dict) -> dict:
        return {"frontend": config["frontend"]}

    def run(self) -> None:
        cfg = self.cfg
        seed_everything(self.seed)
        dev = pick_device(self.device)
        frontend = FrontEnd(FrontEndConfig.from_dict(self.frontend)).to(dev)
        audio, manifest, _ = load_prepared(self.prepared_dir)
        frames = training_frames(frontend, split(audio, manifest, "train"), 32, dev)
        log.info(
            "NMF dictionary: %d components, %d multiplicative updates on %d frames x %d bins, device %s",
            cfg["components"],
            cfg["iterations"],
            frames.shape[1],
            frames.shape[0],
            dev,
        )
        dictionary, history = fit_nmf(frames, cfg["components"], cfg["iterations"], self.seed)
        log.info("NMF reconstruction MSE %.4f (first iteration %.4f)", history[-1]["mse"], history[0]["mse"])
        write_csv(self.outputs.history, pd.DataFrame(history))
        save_dictionary(self.outputs.model, dictionary, frontend.cfg, {"seed": self.seed, "mse": history[-1]["mse"]})
