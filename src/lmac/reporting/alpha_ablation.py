"""LMAC-TD's α ablation: each metric against the mixing weight α, one line per condition with 95 %
bootstrap CIs, and L-MAC's mean as a dashed reference line in the same colour (the LMAC-TD paper
compares α ∈ {0, 0.75, 1} with L-MAC). Reads ``results/<run>/tables/metrics.csv``, as the bar charts.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import LmacError
from ..evaluation.catalogue import TABLE_METRICS, display
from .plotting import TABLE_COLUMNS, palette, plt, read_table, require_columns, save_figure

# the method names registry.td_method gives LMAC-TD models: lmac_td_a0.75
_TD = re.compile(r"lmac_td_a([0-9]+(?:\.[0-9]+)?)")
REFERENCE = "lmac"


def td_alphas(methods: Sequence[str]) -> dict[str, float]:
    """{method: α} for the LMAC-TD methods among ``methods``, sorted by α."""
    found = {m: float(match.group(1)) for m in methods if (match := _TD.fullmatch(m))}
    return dict(sorted(found.items(), key=lambda item: item[1]))


def alpha_ablation_figure(table: pd.DataFrame, metrics: Sequence[str] = TABLE_METRICS, n_cols: int = 4) -> plt.Figure:
    require_columns(table, TABLE_COLUMNS, "metrics table")
    alphas = td_alphas(list(dict.fromkeys(table["method"])))
    if not alphas:
        raise LmacError("metrics table: has no LMAC-TD method (lmac_td_a<α>) for the α ablation")
    td = table[table["method"].isin(list(alphas))].assign(alpha=lambda t: t["method"].map(alphas))
    # metrics with at least one value for some α
    metrics = [m for m in metrics if td.loc[td["metric"] == m, "mean"].notna().any()]
    if not metrics:
        raise LmacError("metrics table: no LMAC-TD metric has a value")
    conditions = list(dict.fromkeys(table["condition"]))
    colours = dict(zip(conditions, palette(len(conditions))))
    n_cols = min(n_cols, len(metrics))
    n_rows = math.ceil(len(metrics) / n_cols)
    fig, axes = plt.subplots(
        n_rows, n_cols, squeeze=False, figsize=(3.4 * n_cols, 2.7 * n_rows + 0.8), constrained_layout=True
    )
    for k, metric in enumerate(metrics):
        ax = axes.flat[k]
        for condition in conditions:
            rows = td[(td["condition"] == condition) & (td["metric"] == metric)].sort_values("alpha")
            if rows["mean"].notna().any():
                mean = rows["mean"].to_numpy(float)
                err = np.vstack([mean - rows["ci_low"].to_numpy(float), rows["ci_high"].to_numpy(float) - mean])
                ax.errorbar(
                    rows["alpha"].to_numpy(float),
                    mean,
                    yerr=np.nan_to_num(err),
                    marker="o",
                    ms=4,
                    capsize=3,
                    color=colours[condition],
                    label=f"LMAC-TD · {condition}",
                )
            ref = table[
                (table["method"] == REFERENCE) & (table["condition"] == condition) & (table["metric"] == metric)
            ]
            if len(ref) and pd.notna(ref["mean"].iloc[0]):
                ax.axhline(
                    float(ref["mean"].iloc[0]), ls="--", lw=1, color=colours[condition], label=f"L-MAC · {condition}"
                )
                ax.axhspan(
                    float(ref["ci_low"].iloc[0]),
                    float(ref["ci_high"].iloc[0]),
                    color=colours[condition],
                    alpha=0.08,
                    lw=0,
                )
        ax.set_title(display(metric), fontsize=9)
        ax.set_xlabel("α (0: learned encoder only, 1: classifier features only)", fontsize=7)
        ax.set_xticks(sorted(alphas.values()))
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(metrics) :]:
        ax.set_visible(False)
    legend: dict = {}  # every condition once, whichever panel drew it
    for ax in axes.flat[: len(metrics)]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    labels = sorted(legend, key=lambda label: (conditions.index(label.split(" · ")[1]), label.startswith("L-MAC")))
    fig.legend(
        [legend[label] for label in labels], labels, loc="outside lower center", ncol=min(len(labels), 5), fontsize=7
    )
    fig.suptitle("LMAC-TD α ablation: mean and 95 % bootstrap CI; dashed: L-MAC (band: its CI)", fontsize=10)
    return fig


def write_alpha_ablation(
    table_csv: str | os.PathLike, png: str | os.PathLike, pdf: str | os.PathLike | None = None
) -> None:
    save_figure(alpha_ablation_figure(read_table(table_csv)), png, pdf)
