"""The claims table as a figure: every comparison's 95 % CI against the line its rule must clear.

One panel per claim, one row per comparison (method vs. compared method, metric, condition). What
is drawn is what the rule decides on, oriented so that right is better:

- ``better`` / ``not_worse``: the paired difference d·(method − versus) with d = ±1 the metric's
  direction; the dashed line is 0 (``better``) or −margin (``not_worse``);
- ``below`` / ``above``: the method's mean, with the threshold as the line (``below`` is drawn
  negated, so right is better there too).

PASS rows are green, FAIL red; NOT RUN rows are listed by name with their reason, no interval.
Randomisation claims (a Spearman CI against a threshold) are drawn like ``above``/``below``.
"""

from __future__ import annotations

import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..evaluation.catalogue import direction
from .claims import COLUMNS, FAIL, NOT_RUN, PASS, overall_verdict
from .plotting import read_table, save_figure

COLOURS = {PASS: "#2a9d3b", FAIL: "#c0392b", NOT_RUN: "#888888"}


def oriented(row: pd.Series) -> tuple[float, float, float, float]:
    """(low, mean, high, line) of one comparison, oriented so that larger is better."""
    if row["rule"] in ("better", "not_worse"):
        sign = -1.0 if direction(row["metric"]) is False else 1.0
        ends = sign * row["diff_ci_low"], sign * row["diff_ci_high"]
        return min(ends), sign * row["diff_mean"], max(ends), -float(row["bound"])
    if row["rule"] in ("below", "randomisation_degrades"):
        return -row["method_ci_high"], -row["method_mean"], -row["method_ci_low"], -float(row["bound"])
    return row["method_ci_low"], row["method_mean"], row["method_ci_high"], float(row["bound"])


def label(row: pd.Series) -> str:
    versus = f" vs {row['versus']}" if isinstance(row["versus"], str) and row["versus"] else ""
    metric = row["metric"] if isinstance(row["metric"], str) else "Spearman"
    where = f", {row['condition']}" if isinstance(row["condition"], str) else ""
    return f"{row['method']}{versus}: {metric}{where}"


def claims_figure(claims_csv: str | os.PathLike, png: str | os.PathLike, pdf: str | os.PathLike | None = None) -> None:
    """Draw ``results/<run>/tables/claims.csv`` (one panel per claim) to PNG and PDF."""
    frame = read_table(claims_csv, COLUMNS)
    claims = list(dict.fromkeys(frame["claim"]))
    heights = [max(1, int((frame["claim"] == c).sum())) for c in claims]
    fig, axes = plt.subplots(
        len(claims),
        1,
        figsize=(8, 0.9 + 0.24 * sum(heights) + 0.45 * len(claims)),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    for ax, claim in zip(axes[:, 0], claims):
        rows = frame[frame["claim"] == claim].reset_index(drop=True)
        overall = overall_verdict(rows["verdict"])
        for y, row in rows.iterrows():
            if row["verdict"] == NOT_RUN or not np.isfinite(row["method_mean"]):
                ax.text(
                    0.01,
                    y,
                    f"NOT RUN: {str(row['note'])[:70]}",
                    transform=ax.get_yaxis_transform(),
                    va="center",
                    fontsize=7,
                    color=COLOURS[NOT_RUN],
                )
                continue
            low, mean, high, line = oriented(row)
            colour = COLOURS.get(row["verdict"], "black")
            ax.plot([low, high], [y, y], color=colour, lw=2)
            ax.plot([mean], [y], "o", color=colour, ms=4)
            ax.plot([line, line], [y - 0.4, y + 0.4], "--", color="black", lw=0.8)
        ax.set_yticks(range(len(rows)), [label(r) for _, r in rows.iterrows()], fontsize=7)
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_title(f"{claim}: {overall}", fontsize=9, loc="left", color=COLOURS[overall])
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", alpha=0.3)
    axes[-1, 0].set_xlabel(
        "95 % CI, oriented so that right is better; dashed: the line the rule must clear", fontsize=8
    )
    fig.tight_layout()
    save_figure(fig, png, pdf)
