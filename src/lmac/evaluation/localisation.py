"""Ground-truth time-frequency regions of the target and localisation metrics against them.

Faithfulness metrics ask whether the classifier agrees with a mask; localisation asks whether the
mask covers *the target sound*. That needs ground truth, which we get in two ways:

* **Event masks** (the synthetic dataset): ``meta/ground_truth_masks.npz`` holds, per clip, the
  bins where the class-defining event dominates the rest of the clip (background, distractors)
  and lies within 40 dB of its own peak. Keys are the file stems, which are also the prepared
  manifest ids. Under contamination the mask is intersected with "target dominates the
  interferer", since bins the interferer drowns are no longer evidence of the event.
* **Ideal binary mask** otherwise (real ESC-50 under a contamination condition): the bins where
  the target clip is at least as loud as the interferer, ``|STFT(target)| >= |STFT(interferer)|``,
  and within ``floor_db`` (40 dB) of the target's maximum. Here the "target" is the whole
  ESC-50 clip, background included: the condition knows which signal was added, not what the
  clip's sound event is.

A **clean ESC-50 clip has no ground truth**: with nothing added, the ideal binary mask would be
"every audible bin", which says nothing about localisation. Its ground truth is all False and
every metric is NaN (reported as missing, not as zero).

Metrics, per clip, on the flattened [T, F] grid (all higher is better):

| name | definition                                                  | Quantus |
|------|-------------------------------------------------------------|---------|
| RMA  | relevance mass accuracy: Σ relevance in GT / Σ relevance    | ``RelevanceMassAccuracy`` |
| RRA  | relevance rank accuracy: share of the top-k bins in GT, k = #GT | ``RelevanceRankAccuracy`` |
| PG   | pointing game: is the bin of maximal relevance inside GT? | ``PointingGame`` |
| IoU  | intersection over union of {mask >= threshold} and GT | - |

RMA clips negative relevance to 0 (positive relevance only; masks are non-negative anyway).

Ties: L-MAC masks are sigmoids that saturate, so many bins can share the maximum (or the
k-th largest value). Rather than let the sort order decide (Quantus: ``argsort``; and its
``PointingGame`` counts a hit if *any* tied maximum is in GT), RRA and PG take the expectation
over a uniformly random tie-break: tied bins count in proportion. Without ties this is exactly
the usual definition (a test compares with Quantus). A constant mask thus scores chance level,
#GT / (T·F), on RRA and PG.

NaN: every metric where GT is empty; RMA also where the mask's relevance sums to 0.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import torch

from ..errors import LmacError
from ..frontend import FrontEnd
from .catalogue import DIRECTION, LOCALISATION
from .metrics import sort_rows

LOCALISATION_METRICS = LOCALISATION.names
LOCALISATION_HIGHER_IS_BETTER = {m: DIRECTION[m] for m in LOCALISATION_METRICS}
FLOOR_DB = 40.0


def load_event_masks(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Event masks of the synthetic dataset: {clip id: bool [T, F]} (id = file stem = manifest id)."""
    path = Path(path)
    if not path.is_file():
        raise LmacError(f"{path}: no such ground-truth mask file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key].astype(bool) for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise LmacError(f"{path}: not a readable .npz of ground-truth masks ({err})") from None


def stack_event_masks(masks: dict[str, np.ndarray], ids: list[str]) -> torch.Tensor:
    """The masks of ``ids`` as one bool tensor [B, T, F]; ``LmacError`` naming a missing id."""
    missing = [i for i in ids if i not in masks]
    if missing:
        raise LmacError(
            f"ground-truth masks: no mask for clip '{missing[0]}'"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
        )
    return torch.from_numpy(np.stack([masks[i] for i in ids]))


def ground_truth(
    frontend: FrontEnd,
    target: torch.Tensor,
    interferer: torch.Tensor,
    event_mask: torch.Tensor | None = None,
    floor_db: float = FLOOR_DB,
) -> torch.Tensor:
    """Where the target lies on the front end's STFT grid, [B, T, F] bool (see the module doc).

    ``target`` and ``interferer`` are [B, L] components of the explained clip
    (``Contaminated.target`` / ``.interferer``); rows whose interferer is all zero are clean.
    """
    has_interferer = interferer.abs().amax(dim=-1) > 0  # [B]
    with torch.no_grad():
        mag_t = FrontEnd.magnitude(frontend.stft(target))
        if event_mask is not None:
            event_mask = event_mask.to(device=mag_t.device, dtype=torch.bool)
            if event_mask.shape != mag_t.shape:
                raise LmacError(
                    f"ground-truth event masks have shape {tuple(event_mask.shape)} but the front "
                    f"end's grid is {tuple(mag_t.shape)} (dataset generated with another front end "
                    f"or clip length?)"
                )
            if not bool(has_interferer.any()):
                return event_mask.clone()
        mag_i = FrontEnd.magnitude(frontend.stft(interferer))
    dominates = mag_t >= mag_i
    if event_mask is not None:
        # clean rows keep the event mask as is
        return event_mask & (dominates | ~has_interferer[:, None, None])
    peak = mag_t.flatten(1).amax(dim=1)[:, None, None]
    audible = mag_t >= peak * 10 ** (-floor_db / 20)
    return dominates & audible & has_interferer[:, None, None]


def _tie_share(values: torch.Tensor, ascending: torch.Tensor, gt: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Expected number of GT bins among the top ``k`` of ``values`` [B, N] under random tie-breaking
    (``ascending``: each row of ``values`` sorted)."""
    b, n = values.shape
    kk = k.clamp(min=1)
    kth = ascending.gather(1, (n - kk)[:, None])  # [B, 1] value of the k-th largest bin
    above = values > kth
    tied = values == kth
    n_above = above.sum(1)
    n_tied = tied.sum(1)
    gt_above = (above & gt).sum(1)
    gt_tied = (tied & gt).sum(1)
    # (kk - n_above) of the n_tied equal bins make it into the top k, each GT bin with equal chance
    slots = (kk - n_above).to(values.dtype)
    out = gt_above.to(values.dtype) + gt_tied.to(values.dtype) * slots / n_tied.clamp(min=1).to(values.dtype)
    return out.reshape(b)


def localisation_metrics(mask: torch.Tensor, gt: torch.Tensor, iou_threshold: float = 0.5) -> dict[str, torch.Tensor]:
    """RMA, RRA, PG and IoU per clip (``LOCALISATION_METRICS``), each a float tensor [B].

    ``mask`` [B, T, F] (relevance, in [0, 1] for mask-based explainers) and ``gt`` [B, T', F] bool
    share the grid; a mask with fewer frames (T < T', as when trailing frames are dropped) is
    zero-padded, i.e. the missing frames carry no relevance.
    """
    if (
        mask.dim() != 3
        or gt.dim() != 3
        or mask.shape[0] != gt.shape[0]
        or mask.shape[2] != gt.shape[2]
        or mask.shape[1] > gt.shape[1]
    ):
        raise ValueError(f"mask {tuple(mask.shape)} and ground truth {tuple(gt.shape)} are not on one grid")
    if mask.shape[1] < gt.shape[1]:
        mask = torch.nn.functional.pad(mask, (0, 0, 0, gt.shape[1] - mask.shape[1]))
    a = mask.detach().flatten(1).double()
    g = gt.to(device=a.device, dtype=torch.bool).flatten(1)
    n_gt = g.sum(1)
    empty = n_gt == 0
    nan = torch.tensor(float("nan"), dtype=a.dtype, device=a.device)

    pos = a.clamp(min=0)
    total = pos.sum(1)
    rma = torch.where(empty | (total <= 0), nan, (pos * g).sum(1) / total.clamp(min=torch.finfo(a.dtype).tiny))
    # once for RRA and PG, in the mask's dtype: widening to float64 afterwards keeps the order exactly
    ascending = sort_rows(mask.detach().flatten(1)).to(a.dtype)
    rra = torch.where(empty, nan, _tie_share(a, ascending, g, n_gt) / n_gt.clamp(min=1))
    pg = torch.where(empty, nan, _tie_share(a, ascending, g, torch.ones_like(n_gt)))
    binary = a >= iou_threshold
    inter = (binary & g).sum(1).to(a.dtype)
    union = (binary | g).sum(1).to(a.dtype)
    iou = torch.where(empty, nan, inter / union.clamp(min=1))
    return {name: value.float() for name, value in zip(LOCALISATION_METRICS, (rma, rra, pg, iou))}
