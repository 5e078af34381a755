import math

import numpy as np
import pandas as pd
import pytest
import torch

from lmac.data.synthetic import generate_synthetic_dataset
from lmac.errors import LmacError
from lmac.evaluation.localisation import (
    LOCALISATION_HIGHER_IS_BETTER,
    LOCALISATION_METRICS,
    ground_truth,
    load_event_masks,
    localisation_metrics,
    stack_event_masks,
)
from lmac.frontend import FrontEnd, FrontEndConfig

SR = 16000


def _metrics(mask, gt, **kw):
    out = localisation_metrics(torch.tensor(mask, dtype=torch.float32), torch.tensor(gt, dtype=torch.bool), **kw)
    assert list(out) == list(LOCALISATION_METRICS)
    return {k: v.tolist() for k, v in out.items()}


def test_names():
    assert LOCALISATION_METRICS == ("RMA", "RRA", "PG", "IoU")
    assert all(LOCALISATION_HIGHER_IS_BETTER[m] for m in LOCALISATION_METRICS)


def test_hand_case():
    mask = [[[0.9, 0.1], [0.3, 0.0]]]
    gt = [[[True, False], [True, False]]]
    m = _metrics(mask, gt)
    assert m["RMA"][0] == pytest.approx(1.2 / 1.3)
    assert m["RRA"][0] == pytest.approx(1.0)  # top-2 bins are 0.9 and 0.3, both in GT
    assert m["PG"][0] == pytest.approx(1.0)
    assert m["IoU"][0] == pytest.approx(0.5)  # {0.9} vs the two GT bins
    # move the maximum out of GT
    m = _metrics([[[0.2, 0.9], [0.3, 0.0]]], gt)
    assert m["PG"][0] == 0.0 and m["RRA"][0] == pytest.approx(0.5)
    assert m["RMA"][0] == pytest.approx(0.5 / 1.4) and m["IoU"][0] == 0.0
    assert _metrics(mask, gt, iou_threshold=0.2)["IoU"][0] == pytest.approx(2 / 2)


def test_empty_ground_truth_and_zero_mask_are_nan():
    m = _metrics([[[0.5, 0.1]], [[0.0, 0.0]]], [[[False, False]], [[True, False]]])
    assert all(math.isnan(m[k][0]) for k in LOCALISATION_METRICS)  # empty GT: nothing to localise
    assert math.isnan(m["RMA"][1])  # no relevance at all
    assert m["RRA"][1] == pytest.approx(0.5) and m["PG"][1] == pytest.approx(0.5)  # chance: 1 of 2 bins
    assert m["IoU"][1] == 0.0


def test_ties_count_in_proportion():
    ones = np.ones((1, 2, 2))
    gt = np.zeros((1, 2, 2), bool)
    gt[0, 0, 0] = True
    m = _metrics(ones, gt)
    assert m["PG"][0] == pytest.approx(0.25) and m["RRA"][0] == pytest.approx(0.25)
    assert m["RMA"][0] == pytest.approx(0.25) and m["IoU"][0] == pytest.approx(0.25)
    # |GT| = 2, one bin clearly top and in GT, then three tied bins of which one is in GT
    mask = [[[1.0, 0.5], [0.5, 0.5]]]
    gt2 = [[[True, True], [False, False]]]
    assert _metrics(mask, gt2)["RRA"][0] == pytest.approx((1 + 1 / 3) / 2)


def test_negative_relevance_is_ignored_by_mass_accuracy():
    m = _metrics([[[0.6, -5.0], [0.2, 0.2]]], [[[True, False], [False, False]]])
    assert m["RMA"][0] == pytest.approx(0.6 / 1.0)


def test_shorter_mask_is_zero_padded_and_bad_shapes_fail():
    mask = torch.tensor([[[0.9, 0.1]]])
    gt = torch.tensor([[[False, False], [True, True]]])
    m = localisation_metrics(mask, gt)
    assert float(m["RMA"][0]) == 0.0 and float(m["IoU"][0]) == 0.0
    with pytest.raises(ValueError, match="grid"):
        localisation_metrics(torch.zeros(1, 3, 2), gt)


def test_against_quantus():
    quantus = pytest.importorskip("quantus")
    rng = np.random.default_rng(0)
    a = rng.random((6, 1, 7, 9)).astype(np.float32)  # continuous: no ties
    s = rng.random((6, 1, 7, 9)) < rng.uniform(0.1, 0.6, (6, 1, 1, 1))
    s[:, 0, 0, 0] = True
    ours = localisation_metrics(torch.from_numpy(a[:, 0]), torch.from_numpy(s[:, 0]))
    ref = {
        "RMA": quantus.RelevanceMassAccuracy(disable_warnings=True),
        "RRA": quantus.RelevanceRankAccuracy(disable_warnings=True),
        "PG": quantus.PointingGame(disable_warnings=True),
    }
    for name, metric in ref.items():
        expected = np.asarray(metric.evaluate_batch(a_batch=a, s_batch=s.astype(np.float32)), dtype=float)
        np.testing.assert_allclose(ours[name].numpy(), expected, rtol=1e-5, err_msg=name)
    assert 0 < float(ours["PG"].mean()) < 1  # the case exercises both hits and misses


def test_batched_on_the_tensors_device():
    mask = torch.rand(3, 5, 4, dtype=torch.float64)
    gt = torch.rand(3, 5, 4) > 0.5
    out = localisation_metrics(mask, gt)
    assert all(v.shape == (3,) and v.dtype == torch.float32 for v in out.values())
    single = localisation_metrics(mask[1:2], gt[1:2])
    for k in LOCALISATION_METRICS:
        torch.testing.assert_close(out[k][1:2], single[k])


# ---------------------------------------------------------------------------- ground truth


def _tone(freq: float, n: int, amp: float = 1.0) -> torch.Tensor:
    return amp * torch.sin(2 * math.pi * freq * torch.arange(n) / SR)


def _bin(fe: FrontEnd, hz: float) -> int:
    return int(round(hz / (SR / fe.cfg.n_fft)))


def test_ideal_binary_mask_on_a_constructed_case():
    fe = FrontEnd()
    n = SR // 2
    target = _tone(1000, n) * (torch.arange(n) < n // 2)  # a 1 kHz tone in the first half only
    interferer = 0.3 * _tone(4000, n)  # a quieter 4 kHz tone throughout
    gt = ground_truth(fe, torch.stack([target, target]), torch.stack([interferer, torch.zeros(n)]))
    assert gt.dtype == torch.bool and gt.shape == (2, fe.cfg.n_frames(n), fe.cfg.n_freqs)
    row = gt[0]
    frames = row.shape[0]
    k1, k4 = _bin(fe, 1000), _bin(fe, 4000)
    assert row[2 : frames // 2 - 3, k1].all()  # the target's bins while it sounds
    assert not row[frames // 2 + 3 :, :].any()  # silent target: nothing
    assert not row[:, k4 - 2 : k4 + 3].any()  # where the interferer dominates
    assert not row[2 : frames // 2 - 3, k1 + 40 :].any()  # > 40 dB below the target's peak
    assert not gt[1].any()  # clean clip: no ground truth
    loose = ground_truth(fe, target[None], interferer[None], floor_db=120.0)
    assert loose.sum() > row.sum()  # a lower floor admits quieter bins


def test_event_mask_intersected_with_dominance():
    fe = FrontEnd()
    n = SR // 4
    target = _tone(1000, n)
    interferer = _tone(1000, n, amp=3.0) * (torch.arange(n) >= n // 2)  # drowns the target later
    shape = (fe.cfg.n_frames(n), fe.cfg.n_freqs)
    event = torch.zeros(2, *shape, dtype=torch.bool)
    event[:, :, _bin(fe, 1000)] = True
    gt = ground_truth(fe, torch.stack([target, target]), torch.stack([interferer, torch.zeros(n)]), event)
    frames = shape[0]
    assert gt[0, : frames // 2 - 3, _bin(fe, 1000)].all()
    assert not gt[0, frames // 2 + 3 :].any()
    assert torch.equal(gt[1], event[1])  # clean row keeps the event mask
    assert not (gt & ~event).any()  # never more than the event
    assert torch.equal(ground_truth(fe, target[None], torch.zeros(1, n), event[:1]), event[:1])
    with pytest.raises(LmacError, match="shape"):
        ground_truth(fe, target[None], interferer[None], event[:1, :-1])


def test_event_masks_of_the_synthetic_dataset(tmp_path):
    fe_cfg = FrontEndConfig()
    generate_synthetic_dataset(
        tmp_path / "ds",
        {
            "n_classes": 2,
            "clips_per_class": 3,
            "n_folds": 3,
            "clip_seconds": 0.5,
            "event_seconds": [0.1, 0.2],
            "n_distractors": [0, 0],
        },
        fe_cfg,
        seed=0,
    )
    masks = load_event_masks(tmp_path / "ds" / "meta" / "ground_truth_masks.npz")
    stems = pd.read_csv(tmp_path / "ds" / "meta" / "esc50.csv")["filename"].str.replace(".wav", "", regex=False)
    assert sorted(masks) == sorted(stems)  # keys are the manifest ids
    shape = (fe_cfg.n_frames(SR // 2), fe_cfg.n_freqs)
    assert all(m.dtype == bool and m.shape == shape and m.any() for m in masks.values())
    ids = sorted(masks)[:3]
    stacked = stack_event_masks(masks, ids)
    assert stacked.shape == (3, *shape) and torch.equal(stacked[2], torch.from_numpy(masks[ids[2]]))
    with pytest.raises(LmacError, match="no mask for clip 'nope'"):
        stack_event_masks(masks, ["nope"])
    with pytest.raises(LmacError, match="no such"):
        load_event_masks(tmp_path / "missing.npz")
    (tmp_path / "bad.npz").write_text("not a zip")
    with pytest.raises(LmacError, match="not a readable"):
        load_event_masks(tmp_path / "bad.npz")
