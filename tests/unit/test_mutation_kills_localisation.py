"""Localisation cases that the mutation run (docs/mutation.md) showed the other tests did not pin."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from lmac.errors import LmacError
from lmac.evaluation.localisation import ground_truth, localisation_metrics, stack_event_masks
from lmac.frontend import FrontEnd

N = 8000


def noise(seed: int, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(1, N, generator=torch.Generator().manual_seed(seed)) * scale


def test_missing_event_masks_are_named_with_how_many_more():
    masks = {"a": np.zeros((2, 3), dtype=bool)}
    with pytest.raises(LmacError, match=re.escape("ground-truth masks: no mask for clip 'b'") + "$"):
        stack_event_masks(masks, ["a", "b"])
    with pytest.raises(LmacError, match=re.escape("no mask for clip 'b' (and 1 more)") + "$"):
        stack_event_masks(masks, ["b", "a", "c"])
    with pytest.raises(LmacError, match=re.escape("no mask for clip 'b' (and 2 more)") + "$"):
        stack_event_masks(masks, ["b", "a", "c", "d"])


def test_ties_between_target_and_interferer_go_to_the_target():
    # "at least as loud": where both are equal the target still counts as present
    fe = FrontEnd()
    s = noise(0)
    gt = ground_truth(fe, s, s.clone())
    mag = FrontEnd.magnitude(fe.stft(s))
    assert torch.equal(gt, mag >= mag.flatten(1).amax(1)[:, None, None] * 0.01)


def test_a_zero_db_floor_keeps_only_the_peak_bin():
    fe = FrontEnd()
    gt = ground_truth(fe, noise(1), noise(2, scale=1e-3), floor_db=0.0)
    assert gt.sum().item() == 1


def test_the_floor_is_in_db_of_amplitude():
    # audible bins: |STFT(target)| within floor_db of its peak, i.e. above peak · 10^(-floor_db/20)
    fe = FrontEnd()
    s = noise(3)
    mag = FrontEnd.magnitude(fe.stft(s))
    for floor_db in (6.0, 20.0):
        expected = mag >= mag.flatten(1).amax(1)[:, None, None] * 10 ** (-floor_db / 20)
        assert torch.equal(ground_truth(fe, s, noise(4, scale=1e-4), floor_db=floor_db), expected)


def test_event_masks_of_any_dtype_give_a_bool_ground_truth():
    fe = FrontEnd()
    s = noise(5)
    event = torch.zeros(1, fe.cfg.n_frames(N), fe.cfg.n_freqs, dtype=torch.uint8)
    event[0, :, 10:20] = 1
    for interferer in (torch.zeros(1, N), noise(6, scale=1e-4)):
        gt = ground_truth(fe, s, interferer, event)
        assert gt.dtype == torch.bool and gt.sum().item() > 0 and not gt[0, :, :10].any()


def test_rank_accuracy_shares_tied_slots_in_proportion():
    # top-2 of [1, 1, 1, 0]: both slots go to the three tied bins, one of which is in GT -> 2/3 of a hit
    mask = torch.tensor([[[1.0, 1.0, 1.0, 0.0]]])
    gt = torch.tensor([[[True, False, False, True]]])
    assert localisation_metrics(mask, gt)["RRA"].item() == pytest.approx((2 / 3) / 2)


def test_every_kind_of_grid_mismatch_is_refused():
    gt = torch.zeros(2, 6, 4, dtype=torch.bool)
    for mask, truth in (
        (torch.zeros(6, 4), gt),  # mask not [B, T, F]
        (torch.zeros(2, 4), gt),  # mask not [B, T, F], batch as the ground truth's
        (torch.zeros(2, 6, 4), gt[0]),  # ground truth not [B, T, F]
        (torch.zeros(1, 6, 4), gt),  # batch
        (torch.zeros(2, 6, 3), gt),  # bins
        (torch.zeros(2, 7, 4), gt),  # more frames than the ground truth
    ):
        with pytest.raises(ValueError, match="not on one grid"):
            localisation_metrics(mask, truth)


def test_a_shorter_mask_with_more_frames_than_bins_is_padded():
    gt = torch.zeros(1, 12, 4, dtype=torch.bool)
    gt[0, 11, 0] = True
    short = torch.ones(1, 10, 4)
    scores = localisation_metrics(short, gt)
    # the padded frames carry no relevance: the GT bin in frame 11 gets none of the mass
    assert scores["RMA"].item() == 0.0 and scores["IoU"].item() == 0.0


def test_ground_truth_of_any_dtype_and_a_mask_on_the_threshold():
    mask = torch.tensor([[[0.5, 0.2], [0.0, 0.0]]])
    gt = torch.tensor([[[True, False], [False, False]]])
    as_bool = localisation_metrics(mask, gt)
    # 0.5 is on the default IoU threshold and counts as selected; a one-bin union gives IoU 1
    assert as_bool["IoU"].item() == 1.0
    for other in (gt.float(), gt.to(torch.uint8)):
        got = localisation_metrics(mask, other)
        assert {k: v.item() for k, v in got.items()} == {k: v.item() for k, v in as_bool.items()}
