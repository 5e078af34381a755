"""How similar two explanations of the same clip are: Spearman rank correlation and SSIM.

Both scores compare explanation maps clip by clip ([B, T, F] → [B]); the maps are the
``mask`` field of an :class:`~lmac.explainers.base.Explanation`, which every method fills on
the same log1p|STFT| grid.

**Spearman** (Adebayo et al. 2018, the "absolute value" variant, which they report): the
Pearson correlation of the average ranks (``scipy.stats.rankdata``, ties share their mean
rank) of |map| flattened. The signed variant is not computed: through the Explainer interface
every map is already non-negative (baselines expose |A| ÷ max, L-MAC a sigmoid mask), so the
two would coincide. A constant map has no ranking, so correlation is undefined; we define two
constant maps as 1 (the explanation carries the same, empty, ranking: it did not change) and
one constant map against a non-constant one as 0 (no rank association).

**SSIM** (``skimage.metrics.structural_similarity``, as Adebayo et al.; 7 × 7 uniform window)
on maps min-max normalised per clip to [0, 1], with ``data_range`` 1, so it compares structure
and not scale. A constant map normalises to all zeros (two constant maps: SSIM 1).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata
from skimage.metrics import structural_similarity

from ..errors import LmacError

SCORES = ("spearman", "ssim")


def _flat(maps: np.ndarray) -> np.ndarray:
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim < 2:
        raise LmacError(f"explanation maps must be [clips, ...], got shape {maps.shape}")
    return maps.reshape(maps.shape[0], -1)


def centred_ranks(maps: np.ndarray) -> np.ndarray:
    """Average ranks of |map| per clip, minus their mean ([B, ...] → [B, N])."""
    ranks = rankdata(np.abs(_flat(maps)), axis=1)
    return ranks - ranks.mean(axis=1, keepdims=True)


def minmax(maps: np.ndarray) -> np.ndarray:
    """Each clip's map scaled to [0, 1] (same shape); a constant map becomes zeros."""
    maps = np.asarray(maps, dtype=np.float64)
    flat = maps.reshape(maps.shape[0], -1)
    low, span = flat.min(axis=1, keepdims=True), np.ptp(flat, axis=1, keepdims=True)
    scaled = np.divide(flat - low, span, out=np.zeros_like(flat), where=span > 0)
    return scaled.reshape(maps.shape)


def _rank_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    norm_a, norm_b = np.sqrt((a * a).sum(axis=1)), np.sqrt((b * b).sum(axis=1))
    constant_a, constant_b = norm_a == 0, norm_b == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (a * b).sum(axis=1) / (norm_a * norm_b)
    rho = np.where(constant_a & constant_b, 1.0, np.where(constant_a | constant_b, 0.0, rho))
    return np.clip(rho, -1.0, 1.0)


def _ssim(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.ndim != 3:
        raise LmacError(f"SSIM compares 2-D maps per clip ([clips, T, F]), got shape {a.shape}")
    win = min(7, *a.shape[1:])
    win -= 1 - win % 2  # odd, as skimage requires; maps smaller than 7 bins use a smaller window
    return np.array([structural_similarity(x, y, data_range=1.0, win_size=win) for x, y in zip(a, b)])


def _same_shape(a: np.ndarray, b: np.ndarray) -> None:
    if np.shape(a) != np.shape(b):
        raise LmacError(f"cannot compare explanations of shape {np.shape(b)} with the reference's {np.shape(a)}")


def spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rank correlation of |a| and |b| per clip ([B, ...] each → [B])."""
    _same_shape(a, b)
    return _rank_correlation(centred_ranks(a), centred_ranks(b))


def ssim(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SSIM of the min-max normalised maps per clip ([B, T, F] each → [B])."""
    _same_shape(a, b)
    return _ssim(minmax(a), minmax(b))


class Reference:
    """The explanations others are compared with; its ranks and normalised maps are computed once."""

    def __init__(self, maps: np.ndarray):
        self.maps = np.asarray(maps)
        self.ranks = centred_ranks(maps)
        self.unit = minmax(maps)

    def compare(self, maps: np.ndarray) -> dict[str, np.ndarray]:
        """{"spearman": [B], "ssim": [B]} of ``maps`` against the reference, clip by clip."""
        _same_shape(self.maps, maps)
        return {"spearman": _rank_correlation(self.ranks, centred_ranks(maps)), "ssim": _ssim(self.unit, minmax(maps))}
