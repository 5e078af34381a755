"""Report figures of the sanity checks, drawn from their summary tables (PNG + PDF).

- cascading: similarity to the original explanation vs randomisation step, one panel per score,
  one colour per method, line style by decoder (solid: fixed decoder or no decoder, dashed:
  retrained decoder), 95 % CI as a band;
- data randomisation: one bar per method and decoder with its 95 % CI, one panel per score.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..reporting.plotting import method_colours, plt, save_figure
from .randomise import BLOCKS
from .similarity import SCORES

LABELS = {"spearman": "Spearman rank correlation (|map|)", "ssim": "SSIM (min-max normalised maps)"}
LINESTYLES = {"none": "-", "fixed": "-", "retrained": "--"}
HATCHES = {"none": "", "fixed": "", "retrained": "//"}


def _floor(summary: pd.DataFrame, score: str) -> float:
    """The y axis starts at 0, or below the lowest interval when a score goes negative."""
    low = np.nanmin(summary[f"{score}_ci_low"].to_numpy(dtype=float), initial=0.0)
    return min(-0.05, low - 0.05)


def cascading_figure(summary: pd.DataFrame, png: str, pdf: str | None = None) -> None:
    methods = list(dict.fromkeys(summary["method"]))
    colours = method_colours(methods)
    fig, axes = plt.subplots(1, len(SCORES), figsize=(12, 4.8), sharex=True, constrained_layout=True)
    for ax, score in zip(axes, SCORES):
        for (method, decoder), rows in summary.groupby(["method", "decoder"], sort=False):
            rows = rows.sort_values("step")
            label = method if decoder in ("none", "fixed") else f"{method} (retrained)"
            ax.plot(
                rows["step"],
                rows[f"{score}_mean"],
                LINESTYLES.get(decoder, ":"),
                marker="o",
                markersize=3,
                color=colours[method],
                label=label,
            )
            ax.fill_between(
                rows["step"],
                rows[f"{score}_ci_low"],
                rows[f"{score}_ci_high"],
                color=colours[method],
                alpha=0.12,
                linewidth=0,
            )
        ax.set_title(LABELS[score], fontsize=10)
        ax.set_xticks(
            range(len(BLOCKS) + 1), ["original", *(f"+{b}" for b in BLOCKS)], rotation=45, ha="right", fontsize=8
        )
        ax.set_xlabel("randomised top-down (cumulative)")
        ax.set_ylim(_floor(summary, score), 1.05)
        ax.axhline(0, color="grey", linewidth=0.5)
        ax.grid(alpha=0.3)
    axes[-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.suptitle(
        "Cascading model randomisation: similarity to the original explanation\n"
        "(an explanation of the model drops; dashed: decoder retrained)",
        fontsize=10,
    )
    save_figure(fig, png, pdf)


def data_randomisation_figure(summary: pd.DataFrame, png: str, pdf: str | None = None) -> None:
    methods = list(dict.fromkeys(summary["method"]))
    colours = method_colours(methods)
    bars = list(summary[["method", "decoder"]].itertuples(index=False, name=None))
    fig, axes = plt.subplots(1, len(SCORES), figsize=(max(8, 0.6 * len(bars) + 4), 4.5), constrained_layout=True)
    x = np.arange(len(bars))
    for ax, score in zip(axes, SCORES):
        rows = summary.set_index(["method", "decoder"]).loc[bars]
        mean = rows[f"{score}_mean"].to_numpy()
        err = np.vstack([mean - rows[f"{score}_ci_low"].to_numpy(), rows[f"{score}_ci_high"].to_numpy() - mean])
        ax.bar(
            x,
            mean,
            yerr=err,
            capsize=2,
            color=[colours[m] for m, _ in bars],
            hatch=[HATCHES.get(d, "..") for _, d in bars],
            edgecolor="black",
            linewidth=0.4,
        )
        ax.set_xticks(
            x,
            [m if d in ("none", "fixed") else f"{m} (retrained)" for m, d in bars],
            rotation=60,
            ha="right",
            fontsize=7,
        )
        ax.set_title(LABELS[score], fontsize=10)
        ax.set_ylim(_floor(summary, score), 1.05)
        ax.axhline(0, color="grey", linewidth=0.5)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(
        "Data randomisation: the classifier trained on permuted labels vs the true-label one\n"
        "(similarity to the original explanation; low passes; hatched: decoder retrained)",
        fontsize=10,
    )
    save_figure(fig, png, pdf)
