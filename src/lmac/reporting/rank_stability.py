"""Do methods rank the same way under different masking operators? Kendall τ-b and Spearman ρ.

For one condition and one faithfulness metric, each "source" (the zero operator, i.e. the papers'
metric; the mean and noise fills; the round trip) orders the methods by their clip-level mean.
Agreement between two sources is Kendall's τ-b and Spearman's ρ between the two vectors of
method means (scipy): 1 for identical rankings, −1 for reversed ones, NaN when a source scores
every method the same (no ranking). The 95 % CI of τ resamples clips (the methods were scored on
the same clips, so one resample serves all methods); its τ-b is computed on all resamples at once
by :func:`kendall_tau_b`, which equals ``scipy.stats.kendalltau`` (a test checks) and avoids
~10⁵ scipy calls per table.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import kendalltau, spearmanr


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """τ-b between rows of ``x`` and ``y`` ([R, n] each, or [n]) → [R] (or a scalar); NaN without ranking."""
    single = np.ndim(x) == 1
    x, y = np.atleast_2d(np.asarray(x, float)), np.atleast_2d(np.asarray(y, float))
    iu = np.triu_indices(x.shape[1], 1)
    sx = np.sign(x[:, :, None] - x[:, None, :])[:, iu[0], iu[1]]
    sy = np.sign(y[:, :, None] - y[:, None, :])[:, iu[0], iu[1]]
    concordance = (sx * sy).sum(1)
    denominator = np.sqrt((sx != 0).sum(1) * (sy != 0).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = np.where(denominator > 0, concordance / np.where(denominator > 0, denominator, 1), np.nan)
    return float(tau[0]) if single else tau


def rank_agreement(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(Kendall τ-b, Spearman ρ) between two vectors of method scores (scipy); NaN without ranking."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan"), float("nan")
    return float(kendalltau(a, b).statistic), float(spearmanr(a, b).statistic)


def bootstrap_tau(
    a: np.ndarray, b: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """95 % CI of τ-b between the method means of clip-score matrices ``a``, ``b`` [clips, methods]."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape[0] == 0 or a.shape[1] < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, a.shape[0], size=(n_boot, a.shape[0]))
    taus = kendall_tau_b(a[idx].mean(1), b[idx].mean(1))
    taus = taus[~np.isnan(taus)]
    if len(taus) == 0:
        return float("nan"), float("nan")
    alpha = (1 - level) / 2
    return float(np.quantile(taus, alpha)), float(np.quantile(taus, 1 - alpha))
