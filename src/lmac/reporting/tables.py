"""Aggregate per-clip scores into method × metric tables with 95 % bootstrap intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import LmacError
from ..evaluation.metrics import HIGHER_IS_BETTER, METRICS
from ..io import write_csv, write_json, write_text


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
    missing = [m for m in METRICS if m not in per_sample.columns]
    if missing:
        raise LmacError(f"per-sample results lack the metric column(s): {', '.join(missing)}")
    rows = []
    for (method, split), group in per_sample.groupby(["method", "split"], sort=False):
        for metric in METRICS:
            lo, hi = bootstrap_ci(group[metric].to_numpy(), n_boot, seed)
            rows.append({"method": method, "split": split, "metric": metric, "mean": group[metric].mean(),
                         "ci_low": lo, "ci_high": hi, "n": int(group[metric].notna().sum())})
    return pd.DataFrame(rows)


def _arrow(metric: str) -> str:
    better = HIGHER_IS_BETTER.get(metric)
    return "" if better is None else (" ↑" if better else " ↓")


def to_markdown(table: pd.DataFrame, accuracy: float | None = None) -> str:
    lines = []
    for split, block in table.groupby("split", sort=False):
        header = "| method | " + " | ".join(f"{m}{_arrow(m)}" for m in METRICS) + " |"
        lines += [f"Split: {split} (n = {block['n'].max()} clips; mean [95 % bootstrap CI])", "",
                  header, "|" + "---|" * (len(METRICS) + 1)]
        for method, rows in block.groupby("method", sort=False):
            cells = rows.set_index("metric")
            lines.append(f"| {method} | " + " | ".join(
                f"{cells.at[m, 'mean']:.3f} [{cells.at[m, 'ci_low']:.3f}, {cells.at[m, 'ci_high']:.3f}]"
                for m in METRICS) + " |")
        lines.append("")
    if accuracy is not None:
        lines.append(f"Classifier test accuracy: {100 * accuracy:.1f} %")
    return "\n".join(lines) + "\n"


def to_nested(table: pd.DataFrame, accuracy: float | None = None) -> dict:
    """{split: {method: {metric: mean}}}, the form ``dvc metrics show/diff`` reads."""
    nested: dict = {} if accuracy is None else {"classifier_test_accuracy": accuracy}
    for row in table.itertuples():
        nested.setdefault(row.split, {}).setdefault(row.method, {})[row.metric] = float(row.mean)
    return nested


def write_tables(per_sample_csvs: list[str], out_csv: str, out_md: str, out_json: str | None = None,
                 accuracy: float | None = None, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    frames = [pd.read_csv(path) for path in per_sample_csvs]
    table = aggregate(pd.concat(frames, ignore_index=True), n_boot, seed)
    write_csv(out_csv, table)
    write_text(out_md, to_markdown(table, accuracy))
    if out_json:
        write_json(out_json, to_nested(table, accuracy))
    return table
