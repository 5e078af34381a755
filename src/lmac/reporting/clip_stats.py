"""Clip-level summaries of per-sample scores: means, 95 % bootstrap CIs, paired method differences.

A clip appears in several rows (contaminated versions, evaluation seeds); those rows share the
clip's content, so they are not independent. Every summary here first averages each clip's rows
(NaN skipped), then bootstraps over clips with :func:`lmac.reporting.tables.bootstrap_ci`: the
mean is the mean of clip means, the CI resamples clips. Methods are evaluated on identical inputs
per (seed, clip, version), so a difference between two methods is formed row by row (paired) before
the clip averaging.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from ..errors import LmacError
from .plotting import read_table
from .tables import bootstrap_ci

ROW_KEYS = ("seed", "id", "version")


def read_per_sample(paths: Sequence[str | os.PathLike], columns: Iterable[str] = ()) -> pd.DataFrame:
    """The per-sample CSVs of the evaluation, concatenated; one-line error naming a bad file or column."""
    frames = []
    for path in paths:
        frame = read_table(path, columns=())
        missing = [c for c in ("condition", "method", "id", *columns) if c not in frame.columns]
        if missing:
            raise LmacError(
                f"{path}: lacks the column(s) {', '.join(missing)}"
                " (evaluate with evaluation.extras to get the listenability/round-trip/operator columns)"
            )
        frames.append(frame)
    if not frames:
        raise LmacError("no per-sample evaluation results to summarise")
    frame = pd.concat(frames, ignore_index=True)
    for key, default in (("seed", 0), ("version", 0)):
        if key not in frame.columns:
            frame[key] = default
    return frame


def clip_means(values: pd.Series, clips: pd.Series) -> np.ndarray:
    """Mean of each clip's non-NaN values (clips with none are dropped)."""
    means = pd.Series(values.to_numpy(dtype=float)).groupby(clips.to_numpy()).mean()
    return means.dropna().to_numpy()


def summary(values: pd.Series, clips: pd.Series, n_boot: int = 1000, seed: int = 0) -> dict:
    """{mean, ci_low, ci_high, n_clips} of the clip means."""
    means = clip_means(values, clips)
    lo, hi = bootstrap_ci(means, n_boot, seed)
    return {
        "mean": float(means.mean()) if len(means) else float("nan"),
        "ci_low": lo,
        "ci_high": hi,
        "n_clips": int(len(means)),
    }


def summarise(
    frame: pd.DataFrame,
    columns: Sequence[str],
    by: Sequence[str] = ("condition", "method"),
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Long form: one row per group of ``by`` and column, with mean, CI, clip and seed counts."""
    rows = []
    for keys, group in frame.groupby(list(by), sort=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        n_seeds = int(group["seed"].nunique()) if "seed" in group else 1
        for column in columns:
            if column not in group:
                continue
            rows.append(
                {
                    **dict(zip(by, keys)),
                    "metric": column,
                    **summary(group[column], group["id"], n_boot, seed),
                    "n_seeds": n_seeds,
                }
            )
    return pd.DataFrame(rows, columns=[*by, "metric", "mean", "ci_low", "ci_high", "n_clips", "n_seeds"])


def paired(frame: pd.DataFrame, column: str, method: str, versus: str, condition: str) -> pd.DataFrame:
    """Rows of ``method`` and ``versus`` on the same items of ``condition``: seed, id, version, a, b, diff."""
    rows = frame[frame["condition"] == condition]
    a = rows.loc[rows["method"] == method, [*ROW_KEYS, column]].rename(columns={column: "a"})
    b = rows.loc[rows["method"] == versus, [*ROW_KEYS, column]].rename(columns={column: "b"})
    both = a.merge(b, on=list(ROW_KEYS), how="inner")
    return both.assign(diff=both["a"] - both["b"])


def per_seed_means(values: pd.Series, seeds: pd.Series) -> dict[int, float]:
    """{seed: mean of its rows} (NaN skipped), in seed order."""
    means = pd.Series(values.to_numpy(dtype=float)).groupby(seeds.to_numpy()).mean()
    return {int(k): float(v) for k, v in means.sort_index().items()}
