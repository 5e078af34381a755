"""Training curves of one model (the classifier or an explainer) from its ``history.csv``.

A history has one row per epoch: ``epoch``, ``train_<name>`` / ``valid_<name>`` columns, ``lr``
and ``seconds``. Each ``<name>`` gets a panel with its train (dashed) and valid (solid) curve; the
learning rate gets its own (log scale); wall time is left out. Several runs of the same model
(one per seed) are drawn in one colour each.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

import pandas as pd
from matplotlib.ticker import MaxNLocator

from ..errors import LmacError
from .plotting import palette, plt, read_table, save_figure

SKIPPED = ("epoch", "seconds")
PHASES = {"train": "--", "valid": "-"}


def panels(columns: list[str]) -> dict[str, list[str]]:
    """{panel name: its columns}: ``loss`` first, then the logged metrics in file order, ``lr`` last."""
    out: dict[str, list[str]] = {}
    for column in columns:
        if column in SKIPPED or column == "lr":
            continue
        phase, _, name = column.partition("_")
        out.setdefault(name if phase in PHASES and name else column, []).append(column)
    ordered = dict(sorted(out.items(), key=lambda item: item[0] != "loss"))
    if "lr" in columns:
        ordered["lr"] = ["lr"]
    return ordered


def training_curves_figure(histories: Mapping[str, pd.DataFrame], model: str, n_cols: int = 4) -> plt.Figure:
    """``histories``: {run label (e.g. ``seed 1234``): its history}."""
    if not histories:
        raise LmacError(f"{model}: no training history to plot")
    columns = list(dict.fromkeys(c for history in histories.values() for c in history.columns))
    groups = panels(columns)
    if not groups:
        raise LmacError(f"{model}: the training history has no logged quantity besides epoch and seconds")
    n_cols = min(n_cols, len(groups))
    n_rows = math.ceil(len(groups) / n_cols)
    fig, axes = plt.subplots(
        n_rows, n_cols, squeeze=False, figsize=(3.3 * n_cols, 2.5 * n_rows + 0.5), constrained_layout=True
    )
    colours = dict(zip(histories, palette(len(histories))))
    for ax, (name, cols) in zip(axes.flat, groups.items()):
        for run, history in histories.items():
            for column in cols:
                if column not in history:
                    continue
                phase = column.partition("_")[0]
                label = f"{run} · {phase}" if phase in PHASES else run
                ax.plot(
                    history["epoch"],
                    history[column],
                    PHASES.get(phase, "-"),
                    marker=".",
                    ms=4,
                    color=colours[run],
                    label=label,
                )
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("epoch", fontsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if name == "lr":
            ax.set_yscale("log")
        ax.legend(fontsize=6)
    for ax in axes.flat[len(groups) :]:
        ax.set_visible(False)
    fig.suptitle(f"Training curves: {model} (solid: validation, dashed: training)", fontsize=10)
    return fig


def write_training_curves(
    histories: Mapping[str, str | os.PathLike], model: str, png: str | os.PathLike, pdf: str | os.PathLike | None = None
) -> None:
    """``histories``: {run label: path of its history.csv}."""
    frames = {run: read_table(path, columns=("epoch",)) for run, path in histories.items()}
    save_figure(training_curves_figure(frames, model), png, pdf)
