"""The figure ``lmac explain`` writes per file: what the classifier heard, and what the explanation kept.

Four spectrogram panels on the log1p-magnitude grid the mask lives on (input, mask, masked-in,
masked-out) and a bar chart. The three spectrograms share one colour scale, the input's, so that
what the mask removed reads as darker, not as a rescaled picture.

One clip: the panels show every STFT frame and the bars are the top-k class probabilities. A file
explained in windows: the panels show the whole file with frames mean-pooled into at most
``lmac.explain_output.MAX_COLUMNS`` columns (the image's size does not grow with the file), a
strip under them shows each window's decision along the same time axis (its predicted class's
probability as the bar height, coloured by class, named when there are few windows), and the bars
are the share of windows per predicted class.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..io import atomic_path  # noqa: E402
from .plotting import spectrogram_image  # noqa: E402

LABELLED_WINDOWS = 24  # above this, window strips are coloured only (names would overlap)
LEGEND_CLASSES = 10


def explanation_figure(
    out_png: str | os.PathLike,
    *,
    logspec: np.ndarray,
    mask: np.ndarray,
    masked_in: np.ndarray,
    masked_out: np.ndarray,
    sample_rate: int,
    hop_length: int,
    top_k: Sequence[tuple[str, float]],
    title: str = "",
    frames_per_column: int = 1,
    windows: Sequence[tuple[float, float, str, float]] | None = None,
) -> None:
    """Write the PNG. Spectrograms and mask are [columns, bins], each column the mean of
    ``frames_per_column`` STFT frames; ``top_k`` is (class, probability), best first;
    ``windows`` is (start s, end s, predicted class, its probability) per window, in time order."""
    columns = logspec.shape[0]
    # centred STFT: frame t is centred at t·hop; bins span 0 … Nyquist
    half = 0.5 * hop_length / sample_rate
    extent = (-half, columns * frames_per_column * hop_length / sample_rate - half, 0.0, sample_rate / 2)
    vmax = max(float(np.nanmax(logspec)), 1e-6) if np.isfinite(logspec).any() else 1e-6
    windowed = windows is not None and len(windows) > 1
    fig = plt.figure(figsize=(11, 10 if windowed else 8.5), constrained_layout=True)
    grid = fig.add_gridspec(4 if windowed else 3, 2, height_ratios=[1, 1, 0.45, 0.8] if windowed else [1, 1, 0.8])
    panels = [
        (logspec, "input log1p|X|", "magma", vmax),
        (mask, "mask", "viridis", 1.0),
        (masked_in, "masked-in (the explanation)", "magma", vmax),
        (masked_out, "masked-out (what the mask removes)", "magma", vmax),
    ]
    pooled = f", {frames_per_column} frames per column" if frames_per_column > 1 else ""
    for k, (image, label, cmap, top) in enumerate(panels):
        ax = fig.add_subplot(grid[k // 2, k % 2])
        shown = spectrogram_image(ax, image, cmap, top, extent)
        ax.set_title(label + pooled, fontsize=9)
        ax.set_xlabel("time (s)", fontsize=8)
        ax.set_ylabel("frequency (Hz)", fontsize=8)
        ax.tick_params(labelsize=7)
        fig.colorbar(shown, ax=ax, pad=0.01).ax.tick_params(labelsize=7)
    if windowed:
        _decision_strip(fig.add_subplot(grid[2, :]), windows, extent[:2])
    ax = fig.add_subplot(grid[-1, :])
    names = [name for name, _ in top_k][::-1]  # best at the top
    probs = [p for _, p in top_k][::-1]
    colours = ["#bbbbbb"] * (len(probs) - 1) + ["#d95f02"]
    ax.barh(range(len(probs)), probs, color=colours)
    ax.set_yticks(range(len(probs)), names, fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of windows" if windowed else "probability", fontsize=8)
    ax.set_title(
        f"predicted class of the {len(windows)} windows" if windowed else f"top-{len(probs)} classes", fontsize=9
    )
    for y, p in enumerate(probs):
        ax.text(min(p + 0.01, 0.93), y, f"{p:.3f}", va="center", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


def _decision_strip(ax, windows: Sequence[tuple[float, float, str, float]], xlim: tuple[float, float]) -> None:
    counts = Counter(name for _, _, name, _ in windows)
    order = [name for name, _ in counts.most_common()]
    palette = plt.get_cmap("tab20").colors
    colour = {name: palette[i % len(palette)] for i, name in enumerate(order)}
    starts = [w[0] for w in windows]
    widths = [w[1] - w[0] for w in windows]
    ax.bar(
        starts,
        [w[3] for w in windows],
        width=widths,
        align="edge",
        color=[colour[w[2]] for w in windows],
        edgecolor="none",
    )
    if len(windows) <= LABELLED_WINDOWS:
        for start, end, name, _prob in windows:
            ax.text((start + end) / 2, 0.04, name, ha="center", va="bottom", rotation=90, fontsize=6)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colour[name]) for name in order[:LEGEND_CLASSES]]
    ax.legend(handles, order[:LEGEND_CLASSES], fontsize=6, ncol=min(5, len(handles)), loc="upper right", framealpha=0.7)
    ax.set_xlim(*xlim)
    ax.set_ylim(0, 1.25)
    ax.set_ylabel("p(predicted)", fontsize=8)
    ax.set_xlabel("time (s)", fontsize=8)
    ax.set_title("decision per window (bar height: probability of its predicted class)", fontsize=9)
    ax.tick_params(labelsize=7)
