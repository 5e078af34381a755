"""Figures: input spectrogram, mask and masked spectrogram for a few test clips per method."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..io import atomic_path  # noqa: E402


def example_panels(explanation_npzs: dict[str, str], out_png: str, n_examples: int = 4, hop_s: float | None = None) -> None:
    """One row per (method, clip): log1p|X|, mask, mask ⊙ log1p|X|."""
    loaded = {method: np.load(path) for method, path in explanation_npzs.items()}
    rows = [(method, i) for method, data in loaded.items() for i in range(min(n_examples, len(data["ids"])))]
    fig, axes = plt.subplots(len(rows), 3, figsize=(11, 2.2 * len(rows)), squeeze=False, constrained_layout=True)
    for r, (method, i) in enumerate(rows):
        data = loaded[method]
        spec = data["logspec"][i].astype(np.float32)
        mask = data["mask"][i].astype(np.float32)
        panels = [(spec, "input log1p|X|", "magma"), (mask, f"{method} mask", "viridis"),
                  (mask * spec, "masked-in spectrogram", "magma")]
        for c, (image, title, cmap) in enumerate(panels):
            ax = axes[r, c]
            ax.imshow(image.T, origin="lower", aspect="auto", cmap=cmap,
                      vmin=0, vmax=1 if c == 1 else max(float(spec.max()), 1e-6))
            ax.set_title(f"{data['ids'][i]}: {title}", fontsize=8)
            ax.set_xlabel("frame", fontsize=7)
            ax.set_ylabel("bin", fontsize=7)
            ax.tick_params(labelsize=6)
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
