"""Bar charts of the metrics table: one panel per metric (row) and condition (column), one bar per
method with its 95 % bootstrap CI.

The bars read ``results/<run>/tables/metrics.csv`` (means and CIs from :func:`tables.aggregate`), so a
figure shows exactly the numbers of the table. A panel without a value (localisation on an input
that has no ground truth, SPS of an all-zero map) says "n/a" instead of drawing an empty axis.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import LmacError
from ..evaluation.catalogue import LOCALISATION, PAPER_METRICS, display
from .plotting import TABLE_COLUMNS, method_colours, plt, read_table, require_columns, save_figure

# which metrics each bar figure shows
KINDS = {"faithfulness": PAPER_METRICS, "localisation": LOCALISATION.columns}


def metric_bars_figure(table: pd.DataFrame, metrics: Sequence[str], title: str = "") -> plt.Figure:
    """The figure for ``metrics`` (those in the table, in the given order) × the table's conditions."""
    require_columns(table, TABLE_COLUMNS, "metrics table")
    wanted, metrics = list(metrics), [m for m in metrics if m in set(table["metric"])]
    if not metrics:
        raise LmacError(f"metrics table: has none of the metrics {', '.join(wanted)}")
    conditions = list(dict.fromkeys(table["condition"]))
    methods = list(dict.fromkeys(table["method"]))
    colours = method_colours(methods)
    # fixed margins in inches (a layout engine costs seconds on ~45 panels); the bottom one fits the
    # longest method name, written vertically
    bottom = 0.25 + 0.065 * max(len(m) for m in methods)
    width, height = 1.0 + max(2.6, 0.28 * len(methods)) * len(conditions), 0.8 + bottom + 2.3 * len(metrics)
    fig, axes = plt.subplots(
        len(metrics), len(conditions), squeeze=False, sharex=True, sharey="row", figsize=(width, height)
    )
    fig.subplots_adjust(
        left=0.75 / width, right=1 - 0.15 / width, top=1 - 0.7 / height, bottom=bottom / height, hspace=0.4, wspace=0.08
    )
    x = np.arange(len(methods))
    for r, metric in enumerate(metrics):
        for c, condition in enumerate(conditions):
            ax = axes[r, c]
            cells = (
                table[(table["condition"] == condition) & (table["metric"] == metric)]
                .set_index("method")
                .reindex(methods)
            )
            mean = cells["mean"].to_numpy(float)
            err = np.vstack([mean - cells["ci_low"].to_numpy(float), cells["ci_high"].to_numpy(float) - mean])
            if np.isnan(mean).all():
                ax.text(0.5, 0.5, "n/a", ha="center", va="center", transform=ax.transAxes, color="0.5")
            else:
                ax.bar(
                    x,
                    np.nan_to_num(mean),
                    yerr=np.where(np.isnan(err), 0, err),
                    capsize=2,
                    color=[colours[m] for m in methods],
                    error_kw={"elinewidth": 0.8},
                )
            ax.set_title(f"{display(metric)} · {condition}", fontsize=9)
            ax.tick_params(labelsize=7)
            ax.grid(axis="y", alpha=0.3)
            if c == 0:
                ax.set_ylabel(display(metric), fontsize=8)
    for ax in axes[-1]:
        ax.set_xticks(x, methods, rotation=90, fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10, y=1 - 0.25 / height)
    return fig


def write_metric_bars(
    table_csv: str | os.PathLike, kind: str, png: str | os.PathLike, pdf: str | os.PathLike | None = None
) -> None:
    """``kind`` is ``faithfulness`` or ``localisation`` (:data:`KINDS`)."""
    if kind not in KINDS:
        raise LmacError(f"unknown metric figure '{kind}' (expected one of: {', '.join(KINDS)})")
    table = read_table(table_csv)
    fig = metric_bars_figure(
        table, KINDS[kind], f"{kind.capitalize()} metrics per method and condition: mean and 95 % bootstrap CI"
    )
    save_figure(fig, png, pdf)
