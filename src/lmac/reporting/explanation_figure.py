"""The figure ``lmac explain`` writes per file: what the classifier heard, and what the explanation kept.

Four spectrogram panels on the log1p-magnitude grid the mask lives on (input, mask, masked-in,
masked-out) and the top-k class probabilities. The three spectrograms share one colour scale, the
input's, so that what the mask removed reads as darker, not as a rescaled picture.
"""

from __future__ import annotations

import os
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..io import atomic_path  # noqa: E402


def explanation_figure(out_png: str | os.PathLike, *, logspec: np.ndarray, mask: np.ndarray,
                       masked_in: np.ndarray, masked_out: np.ndarray, sample_rate: int, hop_length: int,
                       top_k: Sequence[tuple[str, float]], title: str = "") -> None:
    """Write the PNG. Spectrograms and mask are [frames, bins]; ``top_k`` is (class, probability), best first."""
    frames, bins = logspec.shape
    # centred STFT: frame t is centred at t·hop; bins span 0 … Nyquist
    half = 0.5 * hop_length / sample_rate
    extent = (-half, (frames - 1) * hop_length / sample_rate + half, 0.0, sample_rate / 2)
    vmax = max(float(np.max(logspec)), 1e-6)
    fig = plt.figure(figsize=(11, 8.5), constrained_layout=True)
    grid = fig.add_gridspec(3, 2, height_ratios=[1, 1, 0.8])
    panels = [(logspec, "input log1p|X|", "magma", vmax), (mask, "mask", "viridis", 1.0),
              (masked_in, "masked-in (the explanation)", "magma", vmax),
              (masked_out, "masked-out (what the mask removes)", "magma", vmax)]
    for k, (image, label, cmap, top) in enumerate(panels):
        ax = fig.add_subplot(grid[k // 2, k % 2])
        shown = ax.imshow(np.asarray(image, dtype=np.float32).T, origin="lower", aspect="auto", cmap=cmap,
                          vmin=0.0, vmax=top, extent=extent, interpolation="nearest")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("time (s)", fontsize=8)
        ax.set_ylabel("frequency (Hz)", fontsize=8)
        ax.tick_params(labelsize=7)
        fig.colorbar(shown, ax=ax, pad=0.01).ax.tick_params(labelsize=7)
    ax = fig.add_subplot(grid[2, :])
    names = [name for name, _ in top_k][::-1]  # best at the top
    probs = [p for _, p in top_k][::-1]
    colours = ["#bbbbbb"] * (len(probs) - 1) + ["#d95f02"]
    ax.barh(range(len(probs)), probs, color=colours)
    ax.set_yticks(range(len(probs)), names, fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability", fontsize=8)
    ax.set_title(f"top-{len(probs)} classes", fontsize=9)
    for y, p in enumerate(probs):
        ax.text(min(p + 0.01, 0.93), y, f"{p:.3f}", va="center", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
