"""Aggregate per-item scores into method × metric tables per condition, with 95 % bootstrap CIs.

Layout as the papers: one block per input condition, one row per method, one column per metric
(arrow = direction). Written as CSV (long form), Markdown, LaTeX and a nested JSON that
``dvc metrics show/diff`` reads.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import LmacError
from ..evaluation.catalogue import PAPER_METRICS, TABLE_METRICS, display
from ..io import write_csv, write_json, write_text
from .table_model import Cell, Table, ci_cell

# the metrics table's columns (kept under this name for the callers of this module)
ALL_METRICS = TABLE_METRICS


def bootstrap_ci(values: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(axis=1)
    alpha = (1 - level) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def aggregate(per_sample: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    missing = [m for m in PAPER_METRICS if m not in per_sample.columns]
    if missing:
        raise LmacError(f"per-sample results lack the metric column(s): {', '.join(missing)}")
    if "condition" not in per_sample.columns:
        per_sample = per_sample.assign(condition="clean")
    metrics = [m for m in ALL_METRICS if m in per_sample.columns]
    rows = []
    for (condition, method, split), group in per_sample.groupby(["condition", "method", "split"], sort=False):
        accuracy = float(group["correct"].mean()) if "correct" in group else float("nan")
        seconds = float(group["explain_s"].mean()) if "explain_s" in group else float("nan")
        n_seeds = int(group["seed"].nunique()) if "seed" in group else 1
        for metric in metrics:
            lo, hi = bootstrap_ci(group[metric].to_numpy(), n_boot, seed)
            rows.append(
                {
                    "condition": condition,
                    "method": method,
                    "split": split,
                    "metric": metric,
                    "mean": group[metric].mean(),
                    "ci_low": lo,
                    "ci_high": hi,
                    "n": int(group[metric].notna().sum()),
                    "n_seeds": n_seeds,
                    "classifier_accuracy": accuracy,
                    "explain_ms_per_clip": 1000 * seconds,
                }
            )
    return pd.DataFrame(rows)


def blocks(table: pd.DataFrame):
    """(condition, its rows, its metrics in table order) of an aggregated table."""
    for condition, block in table.groupby("condition", sort=False):
        metrics = [m for m in ALL_METRICS if m in set(block["metric"])]
        yield condition, block, metrics


def condition_table(block: pd.DataFrame, metrics: list[str], timing: bool = False) -> Table:
    """One condition's methods × metrics, ``mean [95 % CI]`` cells (and the ms per clip if ``timing``)."""
    table = Table([Cell("method", "Method"), *(display(m) for m in metrics), *(["ms/clip"] if timing else [])])
    for method, rows in block.groupby("method", sort=False):
        cells = rows.set_index("metric")
        row = [method, *(ci_cell(*(cells.at[m, k] for k in ("mean", "ci_low", "ci_high"))) for m in metrics)]
        table.rows.append(row + ([f"{rows['explain_ms_per_clip'].iloc[0]:.1f}"] if timing else []))
    return table


def to_markdown(table: pd.DataFrame, accuracy: float | None = None) -> str:
    lines = []
    for condition, block, metrics in blocks(table):
        n, acc = block["n"].max(), block["classifier_accuracy"].iloc[0]
        lines += [
            f"### Condition: {condition} (split {block['split'].iloc[0]}, n = {n} items; "
            f"classifier accuracy on these inputs {100 * acc:.1f} %; mean [95 % bootstrap CI])",
            "",
            *condition_table(block, metrics, timing=True).to_markdown(),
            "",
        ]
    if accuracy is not None:
        lines.append(f"Classifier test accuracy (clean test clips): {100 * accuracy:.1f} %")
    return "\n".join(lines) + "\n"


def to_latex(table: pd.DataFrame) -> str:
    """One ``tabular`` per condition; mean with the CI as a subscript range."""
    out = []
    for condition, block, metrics in blocks(table):
        out += [f"% condition: {condition}", *condition_table(block, metrics).to_latex(), ""]
    return "\n".join(out)


def to_nested(table: pd.DataFrame, accuracy: float | None = None) -> dict:
    """{condition: {method: {metric: mean}}}, the form ``dvc metrics show/diff`` reads."""
    nested: dict = {} if accuracy is None else {"classifier_test_accuracy": accuracy}
    for row in table.itertuples():
        value = None if np.isnan(row.mean) else float(row.mean)
        nested.setdefault(row.condition, {}).setdefault(row.method, {})[row.metric] = value
    return nested


def write_tables(
    per_sample_csvs: list[str],
    out_csv: str,
    out_md: str,
    out_json: str | None = None,
    accuracy: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    out_tex: str | None = None,
) -> pd.DataFrame:
    frames = [pd.read_csv(path) for path in per_sample_csvs]
    table = aggregate(pd.concat(frames, ignore_index=True), n_boot, seed)
    write_csv(out_csv, table)
    write_text(out_md, to_markdown(table, accuracy))
    if out_tex:
        write_text(out_tex, to_latex(table))
    if out_json:
        write_json(out_json, to_nested(table, accuracy))
    return table
