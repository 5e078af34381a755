"""Localisation cases that the mutation run (docs/mutation.md) showed the other tests did not pin."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from lmac.errors import LmacError
from lmac.evaluation.localisation import ground_truth, stack_event_masks
from lmac.frontend import FrontEnd

N = 8000


def noise(seed: int, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(1, N, generator=torch.Generator().manual_seed(seed)) * scale


def test_missing_event_masks_are_named_with_how_many_more():
    masks = {"a": np.zeros((2, 3), dtype=bool)}
    with pytest.raises(LmacError, match=re.escape("ground-truth masks: no mask for clip 'b'") + "$"):
        stack_event_masks(masks, ["a", "b"])
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
