"""Example explanations side by side: for one test clip, one row per method with the input
log1p|X|, the mask, the masked-in spectrogram M ⊙ log1p|X| and the spectrogram of the listenable
explanation (the waveform the method returns, re-analysed with the classifier's STFT).

The clip is the same for every method: the k-th of the example clips every method's explanation
file holds (evaluation keeps the first ``report.n_examples`` clips of the split, in the same order
for every method). The three spectrograms share the input's colour scale (up to its 99.5th
percentile), so what a mask removes reads as darker, not as a rescaled picture.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import torch

from ..errors import LmacError
from ..frontend import FrontEnd, FrontEndConfig
from .plotting import plt, save_figure, spectrogram_image

EXAMPLE_KEYS = ("ids", "sample_rate", "mask", "logspec", "waveform")
COLUMNS = ("input log1p|X|", "mask", "masked-in M⊙log1p|X|", "listenable explanation")


def _load(method: str, path: str | os.PathLike) -> dict[str, np.ndarray]:
    try:
        with np.load(path) as data:
            missing = [k for k in EXAMPLE_KEYS if k not in data.files]
            if missing:
                raise LmacError(f"{path}: lacks the array(s) {', '.join(missing)} ({method}'s explanations)")
            return {k: data[k] for k in EXAMPLE_KEYS}
    except FileNotFoundError:
        raise LmacError(f"{path}: no such file ({method}'s explanations)") from None
    except (ValueError, OSError) as err:
        raise LmacError(f"{path}: not a readable .npz ({err})") from None


def common_example_ids(loaded: Mapping[str, Mapping[str, np.ndarray]]) -> list[str]:
    """The example clips every method has, in the first method's order."""
    first, *rest = (list(map(str, data["ids"])) for data in loaded.values())
    shared = set(first).intersection(*rest)
    return [i for i in first if i in shared]


def example_panels_figure(
    loaded: Mapping[str, Mapping[str, np.ndarray]], example: int, frontend: dict | None = None, condition: str = ""
) -> plt.Figure:
    """``example`` counts from 1 among :func:`common_example_ids`; ``frontend``: the config's section."""
    if not loaded:
        raise LmacError("no explanation file to draw examples from")
    ids = common_example_ids(loaded)
    if not 1 <= example <= len(ids):
        raise LmacError(
            f"example {example} requested, but the methods' explanation files share "
            f"{len(ids)} example clip(s) (report.n_examples)"
        )
    clip = ids[example - 1]
    sample_rates = {int(data["sample_rate"]) for data in loaded.values()}
    if len(sample_rates) != 1:
        raise LmacError(f"the explanation files disagree on the sample rate: {sorted(sample_rates)}")
    fe = FrontEnd(FrontEndConfig.from_dict({**(frontend or {}), "sample_rate": sample_rates.pop()}))
    methods = list(loaded)
    height = 1.2 + 1.9 * len(methods)
    fig, axes = plt.subplots(len(methods), len(COLUMNS), squeeze=False, figsize=(12, height))
    # fixed margins (in inches) and ticks on the outer panels only: a layout engine and ~50 panels'
    # tick labels would cost seconds per figure
    fig.subplots_adjust(left=0.06, right=0.99, top=1 - 0.75 / height, bottom=0.45 / height, hspace=0.3, wspace=0.06)
    hop_s = fe.cfg.hop_length / fe.cfg.sample_rate
    for r, method in enumerate(methods):
        data = loaded[method]
        i = list(map(str, data["ids"])).index(clip)
        spec = data["logspec"][i].astype(np.float32)
        mask = data["mask"][i].astype(np.float32)
        with torch.no_grad():
            heard = fe.log_spectrogram(torch.from_numpy(data["waveform"][i : i + 1].astype(np.float32)))[0].numpy()
        frames = min(len(spec), len(heard))
        extent = (-hop_s / 2, (frames - 0.5) * hop_s, 0.0, fe.cfg.sample_rate / 2)
        # a few loud bins would otherwise leave the rest of the picture black
        vmax = max(float(np.quantile(spec, 0.995)), 1e-6)
        images = ((spec, "magma", vmax), (mask, "viridis", 1.0), (mask * spec, "magma", vmax), (heard, "magma", vmax))
        for c, ((image, cmap, top), label) in enumerate(zip(images, COLUMNS)):
            ax = axes[r, c]
            spectrogram_image(ax, image[:frames], cmap, top, extent)
            ax.set_title(f"{method}: {label}", fontsize=8)
            ax.tick_params(labelsize=6)
            if c == 0:
                ax.set_ylabel("frequency (Hz)", fontsize=7)
            else:
                ax.set_yticks([])
            if r == len(methods) - 1:
                ax.set_xlabel("time (s)", fontsize=7)
            else:
                ax.set_xticks([])
    where = f"{condition} input, " if condition else ""
    fig.suptitle(f"Example {example}: {where}clip {clip}", fontsize=10, y=1 - 0.2 / height)
    return fig


def write_example_panels(
    explanations: Mapping[str, str | os.PathLike],
    example: int,
    png: str | os.PathLike,
    pdf: str | os.PathLike | None = None,
    frontend: dict | None = None,
    condition: str = "",
) -> None:
    """``explanations``: {method: its explanations .npz}, in the order of the rows."""
    loaded = {method: _load(method, path) for method, path in explanations.items()}
    save_figure(example_panels_figure(loaded, example, frontend, condition), png, pdf)
