"""Figures of the tables beyond the papers (PNG + PDF, from the tables' CSVs, so they show their numbers).

- listenability: bars per method with 95 % CIs, one panel per score × condition (the metric-bar
  layout of :mod:`lmac.reporting.metric_bars`);
- round trip: per faithfulness metric, each method × condition as a point (spectrogram-domain
  mean, heard mean) with both CIs; points on the diagonal score the same either way;
- robustness: Kendall τ-b between the method rankings of two sources (operators, round trip),
  averaged over conditions, per metric, as an annotated heat map.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from ..errors import LmacError
from ..evaluation.catalogue import FAITHFULNESS, LISTENABILITY, OPERATORS, ROUND_TRIP
from .beyond_tables import rank_summary
from .metric_bars import metric_bars_figure
from .plotting import method_colours, plt, read_table, save_figure

MARKERS = "osD^vP*Xh<>"


def listenability_figure(table: pd.DataFrame) -> plt.Figure:
    scores = [m for m in LISTENABILITY.names if m != "silent"]  # the scores, not the share of silent explanations
    return metric_bars_figure(table, scores, "Listenable explanation vs. the clean target")


def roundtrip_figure(table: pd.DataFrame) -> plt.Figure:
    """Scatter of heard vs. spectrogram-domain means, one panel per faithfulness metric."""
    metrics = [m for m in FAITHFULNESS.names if m in set(table["metric"])]
    if not metrics:
        raise LmacError("round-trip table: has no faithfulness metric")
    methods, conditions = list(dict.fromkeys(table["method"])), list(dict.fromkeys(table["condition"]))
    colours = method_colours(methods)
    n_cols = 3
    n_rows = -(-len(metrics) // n_cols)
    fig, axes = plt.subplots(
        n_rows, n_cols, squeeze=False, figsize=(4.0 * n_cols, 3.6 * n_rows + 0.8), constrained_layout=True
    )
    wide = table.pivot_table(
        index=["condition", "method", "metric"], columns="domain", values=["mean", "ci_low", "ci_high"], aggfunc="first"
    )
    for ax, metric in zip(axes.flat, metrics):
        for c, condition in enumerate(conditions):
            for method in methods:
                key = (condition, method, metric)
                if key not in wide.index:
                    continue
                r = wide.loc[key]
                x, y = r[("mean", "spectrogram")], r[("mean", "heard")]
                if np.isnan(x) or np.isnan(y):
                    continue
                ax.errorbar(
                    x,
                    y,
                    xerr=[[x - r[("ci_low", "spectrogram")]], [r[("ci_high", "spectrogram")] - x]],
                    yerr=[[y - r[("ci_low", "heard")]], [r[("ci_high", "heard")] - y]],
                    fmt=MARKERS[c % len(MARKERS)],
                    color=colours[method],
                    ms=5,
                    elinewidth=0.6,
                    capsize=1.5,
                )
        lo, hi = ax.get_xlim()
        lo, hi = min(lo, ax.get_ylim()[0]), max(hi, ax.get_ylim()[1])
        ax.plot([lo, hi], [lo, hi], color="0.6", lw=0.8, ls="--", zorder=0)
        ax.set(xlim=(lo, hi), ylim=(lo, hi), xlabel=f"{metric} on the spectrogram", ylabel=f"{metric} heard")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(metrics) :]:
        ax.axis("off")
    handles = [plt.Line2D([], [], color=colours[m], marker="o", ls="", label=m) for m in methods]
    handles += [
        plt.Line2D([], [], color="0.3", marker=MARKERS[c % len(MARKERS)], ls="", label=cond)
        for c, cond in enumerate(conditions)
    ]
    fig.legend(
        handles=handles,
        loc="lower center",
        ncol=min(8, len(handles)),
        fontsize=7,
        frameon=False,
        bbox_to_anchor=(0.5, -0.01),
    )
    fig.get_layout_engine().set(rect=(0, 0.06, 1, 0.94))
    fig.suptitle("Round-trip faithfulness: the metric on what a listener hears vs. on the spectrogram", fontsize=10)
    return fig


def robustness_figure(ranks: pd.DataFrame) -> plt.Figure:
    """Heat map of the mean Kendall τ-b over conditions: metrics × pairs of sources."""
    summary = rank_summary(ranks)
    if summary.empty:
        raise LmacError("rank-stability table: is empty")
    summary["pair"] = summary["source_a"] + " vs " + summary["source_b"]
    grid = summary.pivot(index="metric", columns="pair", values="mean_tau")
    grid = grid.reindex(
        index=[m for m in FAITHFULNESS.names if m in grid.index], columns=list(dict.fromkeys(summary["pair"]))
    )
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * grid.shape[1], 1.2 + 0.5 * grid.shape[0]), constrained_layout=True)
    image = ax.imshow(grid.to_numpy(float), cmap="RdBu", vmin=-1, vmax=1, aspect="auto")
    for (i, j), value in np.ndenumerate(grid.to_numpy(float)):
        ax.text(
            j,
            i,
            "–" if np.isnan(value) else f"{value:.2f}",
            ha="center",
            va="center",
            fontsize=8,
            color="white" if abs(value) > 0.6 else "black",
        )
    ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(grid.shape[0]), grid.index, fontsize=8)
    fig.colorbar(image, ax=ax, label="Kendall τ-b (mean over conditions)")
    ax.set_title("Rank stability of the methods between masking operators", fontsize=10)
    return fig


def _listenability(table_csv: str | os.PathLike) -> plt.Figure:
    table = read_table(table_csv)
    if not table.empty:
        return listenability_figure(table)
    # no condition with a clean target: say so instead of failing the report
    fig, ax = plt.subplots(figsize=(5, 1.5))
    ax.axis("off")
    ax.text(0.5, 0.5, "no evaluated condition has a known clean target", ha="center", va="center")
    return fig


#: the figure of each table beyond the papers (by the evaluation.extras value), from the CSV that table writes
FIGURES = {
    LISTENABILITY.extra: _listenability,
    ROUND_TRIP.extra: lambda csv: roundtrip_figure(
        read_table(csv, ("condition", "method", "metric", "domain", "mean", "ci_low", "ci_high"))
    ),
    OPERATORS.extra: lambda csv: robustness_figure(
        read_table(csv, ("condition", "metric", "source_a", "source_b", "kendall_tau", "spearman"))
    ),
}


def write_figure(kind: str, table_csv: str | os.PathLike, png: str | os.PathLike, pdf: str | os.PathLike) -> None:
    """``kind`` = listenability | roundtrip | robustness, from the CSV that table writes (robustness: the ranks)."""
    if kind not in FIGURES:
        raise LmacError(f"unknown figure kind '{kind}' (known: {', '.join(FIGURES)})")
    save_figure(FIGURES[kind](table_csv), png, pdf)
